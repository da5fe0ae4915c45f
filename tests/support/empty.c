/* Keeps the support library non-empty before any helper lands. */
typedef int hubsim_test_support_empty;
