# Regenerates the per-model section of docs/devices.md from devices/catalog/*.yaml:
#   python3 scripts/devices-doc.py   (needs python3-yaml)
import yaml, glob, os, sys
ROOT=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
order=['climate','contact','motion','safety','light_sensor','vibration','buttons','switches','plugs','curtains','thermostats','lights','locks']
notes={
'lumi.weather':'Legacy. Temperature and humidity on change (0.5 degC, 2 %RH), pressure on change of 1 hPa as one frame of three records, as the real sensor sends it: `0x0000` measuredValue (hPa), `0x0014` scale = -1 and `0x0010` scaledValue (0.1 hPa), so hosts that compute `scaledValue / 10^scale` have the scale in the same frame. No periodic reports: the hourly heartbeat carries all three values.',
'lumi.sensor_ht.agl02':'Zigbee 3.0. Same climate as `lumi.weather` (parameters of the former C model). Pressure is reported as the real T1 sends it: one frame of `0x0000` measuredValue (hPa), `0x0014` scale = -1 and `0x0010` scaledValue (0.1 hPa); zigbee2mqtt computes pressure from scaledValue and the scale of the same frame.',
'lumi.sensor_magnet.aq2':'`onOff` 1 = open (hosts: contact = onOff == 0). A door opens about four times a day and stays open 5 s..10 min.',
'lumi.sensor_motion.aq2':'Every detection sends two frames: occupancy = 1 (never 0; hosts clear it after 90 s) then the room\'s illuminance (lux, no log formula; `report: {with: motion}`). Blind 60 s after a detection.',
'lumi.motion.ac02':'A detection is one report of `0xFCC0/0x0112` (mfr 0x115F) = the room\'s lux + 65536; hosts clear occupancy after detection_interval + 2 s. Detection interval, sensitivity and LED are writable (delivered when the device next wakes).',
'lumi.sensor_wleak.aq1':'Leak = IAS Zone Status Change Notification (cluster 0x0500 command 0x00), zoneStatus bit 0 leak, bit 3 battery low; the simple descriptor has no 0x0500 (as ZHA records it).',
'lumi.sensor_smoke':'Smoke = IAS Zone Status Change Notification, bit 0 smoke, bit 3 battery low. `0xFFF1` (mfr 0x115F) accepts the self-test / sensitivity writes; `0xFFF0` reads back the last one.',
'lumi.sensor_gas.acn02':'Mains router. Gas and its density are reported on 0xFCC0 (mfr 0x115F) as each alarm starts and ends; configuration attributes are writable.',
'lumi.sen_ill.mgl01':'`measuredValue` = 10000·log10(lux) + 1, reported on a change of max(5 lx, 10 %) within 10 s..1 h (the reporting z2m configures).',
'lumi.vibration.aq1':'Events on closuresDoorLock 0x0101: `0x0055` 1 vibration / 2 tilt / 3 drop, `0x0505` strength << 16, `0x0503` tilt angle. Sensitivity (genBasic 0xFF0D, mfr 0x115F) is writable.',
'lumi.sensor_switch.aq2':'Single click: `onOff` report; multi-click: `0x8000` = 2/3/4.',
'lumi.remote.b1acn01':'The same button with later firmware and its own descriptor (ZHA sensor_switch_aq3 signature): every action is `genMultistateInput.presentValue` 0 hold, 1 single, 2 double, 3 triple, 255 release.',
'lumi.ctrl_ln2.aq1':'Two relays switched by commands (genOnOff on ep1 = left, ep2 = right) and by hand (coupled mode, about three times a day each); power as genAnalogInput float W on ep3; decoupled button events on ep5 (left) and ep6 (right). `lumi.ctrl_ln2` is an alias.',
'lumi.switch.l1aeu1':'One relay; button events on ep41; 0xFCC0 configuration writable (mode, operation mode, power-outage memory, LED at night). In operation mode 1 ("control relay", the default) a single press also toggles the relay (a chain); in mode 0 (decoupled) presses are events only.',
'lumi.plug':'Relay with metering: power as genAnalogInput float W on ep2, on change of max(2 W, 5 %) within 5 s..1 h; the power follows the relay (0 W while it is open) and is reported the moment the relay switches (`at_once_with: state`), whatever min_s.',
'lumi.plug.maeu01':'Parameters of the former C model: activePower (int16 W, multiplier = divisor = 1) on change of max(2 W, 5 %) within 5 s..1 h; currentSummDelivered (uint48 Wh, divisor 1000) on every 10 Wh within 5 s..1 h; onOff on change. The power follows the relay and is reported the moment it switches (`at_once_with: state`), whatever min_s.',
'lumi.curtain':'Position (genAnalogOutput presentValue float, 0 closed..100 open) is written to move; the motor takes 40 s for the whole range and reports the arrival; windowCovering stop (0x02) stops it where it is. `0x0404` motor state reads 0 stopped / 1 opening / 2 closing.',
'lumi.airrtc.agl001':'Battery TRV, sleepy, polls every 5 s. occupiedHeatingSetpoint is writable (int16, 0.01 degC, 5..30 in 0.5 steps) and reported when it changes; the room (localTemp) follows the setpoint at about 1 degC/h and is reported on 0.5 degC change within 20 s..1 h.',
'lumi.light.aqcn02':'On/off, level (moveToLevel 0x00 and moveToLevelWithOnOff 0x04, uint8 level at payload offset 0) and colour temperature (moveToColorTemp 0x0A, uint16 mired at offset 0); each change is reported. moveToLevelWithOnOff also switches the light on above level 0 and off at 0 (ZCL); `colorMode` (0x0300/0x0008, read by a host\'s /get of color_temp) is 2, colour temperature, set again by every moveToColorTemp.',
'lumi.switch.agl011':'Dimmer: on/off and level commands (moveToLevelWithOnOff also switches on above level 0 and off at 0); power as genAnalogInput float W on change of 5 W within 10 s..1 h; knob events as genMultistateInput.',
'lumi.lock.acn02':'Report-only: unlocks (0xFF10), failures and doorbell (0xFF11) and lock status (0xFFF6) are char strings of bytes on closuresDoorLock, each an event; battery low in genPowerCfg batteryAlarmMask.',
}
def h(v): return '0x%04X'%v
def val(x):
    v=x.get('value')
    if isinstance(v,dict):
        if 'const' in v: return 'const %s'%v['const']
        if 'hex' in v: return 'hex %s'%v['hex']
    s=str(v)
    if x.get('scale',1)!=1: s+=' ×%s'%x['scale']
    if x.get('offset',0): s+=' +%s'%x['offset']
    if x.get('encode'): s+=' (%s%s)'%(x['encode'], ' bit %d'%x['bit'] if 'bit' in x else '')
    return s
def rep(a):
    r=a.get('report','none')
    if isinstance(r,dict) and 'with' not in r:
        s='change'
        if r.get('change'): s+=' ≥ %s'%r['change']
        if r.get('change_pct'): s+=' / %s %%'%r['change_pct']
        s+=', min %s s'%r.get('min_s',0)
        s+=', max %s'%(('%s s'%r['max_s']) if r.get('max_s') else 'none')
        if r.get('at_once_with'): s+=', at once with `%s`'%r['at_once_with']
    elif isinstance(r,dict) and 'with' in r: s='with every `%s` event'%r['with']
    else: s=r
    if a.get('as'): s+=' (IAS notification)'
    if a.get('on_join'): s+=', on join'
    if a.get('writable'): s+=', writable'
    if a.get('same_frame'): s+=', with %s in the same frame'%' and '.join(h(x) for x in a['same_frame'])
    return s
def step(t):
    s='%s %s'%(t['do'],t['channel'])
    if 'value' in t: s+=' %s'%t['value']
    if t.get('if'): s+=' if '+' and '.join('%s = %s'%(k,v) for k,v in t['if'].items())
    return s
def chan(n,c):
    k,p=list(c.items())[0]
    return '`%s`: %s %s'%(n,k,', '.join('%s %s'%(a,b) for a,b in p.items()))
out=[]
for fam in order:
    d=yaml.safe_load(open(os.path.join(ROOT,'devices/catalog/%s.yaml'%fam)))
    for m in d.get('models',[]):
        ids=' / '.join('`%s`'%i for i in [m['id']]+m.get('aliases',[]))
        out.append('### %s — %s %s (`%s.yaml`)\n'%(ids,m['vendor'],m['vendor_model'],fam))
        out.append('%s. %s\n'%(m['description'],notes.get(m['id'],'')))
        hb=m.get('heartbeat')
        ident='- Identity: manufacturer `%s`, node-descriptor code %s, OUI %s, %s %s%s, join `%s`'%(m['manufacturer'],h(m['manufacturer_code']),'0x%06X'%m['ieee_oui'],m['power'],m['logical_type'],(', sleepy, poll %s s'%m['poll_s'] if m['sleepy'] else ', receiver on'),m['join'])
        if m.get('latency_ms'): ident+=', command latency %s..%s ms'%tuple(m['latency_ms'])
        out.append(ident)
        for e in m['endpoints']:
            out.append('- Endpoint %d: profile %s, device %s, in [%s], out [%s]'%(e['id'],h(e['profile']),h(e['device_id']),' '.join('%04X'%c for c in e['in']),' '.join('%04X'%c for c in e['out'])))
        b=m.get('battery')
        if b: out.append('- Battery: fresh %s..%s mV, -%s µV per frame, -%s µV per day, empty %s mV; percent linear over %s..%s mV, low below %s %%'%(b['fresh_mv'][0],b['fresh_mv'][1],b['per_frame_uv'],b['per_day_uv'],b['empty_mv'],b['percent_mv'][0],b['percent_mv'][1],b['low_pct']))
        out.append('- Channels: '+'; '.join(chan(n,c) for n,c in m.get('channels',{}).items()))
        out.append('\n| ep | cluster | attr | name | type | value | report |\n|---|---|---|---|---|---|---|')
        for a in m.get('attributes',[]):
            out.append('| %d | %s | %s%s | %s | %s | %s | %s |'%(a['ep'],h(a['cluster']),h(a['attr']),' (mfr %s)'%h(a['mfr']) if a.get('mfr') else '',a['name'],a['type'],val(a).replace('|','/'),rep(a)))
        if hb:
            out.append('\nHeartbeat `%s` every %s..%s s, tags in this order: '%(hb['format'],*hb['period_s'])+', '.join('`%02X` %s %s'%(t['tag'],t['type'],val(t)) for t in hb['tags'])+'.')
        if m.get('commands'):
            out.append('\nCommands: '+'; '.join('%s%s/0x%02X → %s %s%s'%('ep%d '%c['ep'] if c.get('ep') else '',h(c['cluster']),c['command'],c['do'],c['channel'],' (%s at offset %s)'%(c['arg']['type'],c['arg']['offset']) if c.get('arg') else '')+(', then '+', '.join(step(t) for t in c['then']) if c.get('then') else '') for c in m['commands'])+'.')
        if m.get('chains'):
            out.append('\nChains: '+'; '.join('an event of `%s` → %s'%(c['when'],step(c)) for c in m['chains'])+'.')
        w=[a for a in m.get('attributes',[]) if a.get('writable')]
        if w: out.append('\nWritable: '+', '.join('%s/%s %s'%(h(a['cluster']),h(a['attr']),a['name']) for a in w)+'.')
        if m.get('triggers'):
            out.append('\nTriggers: '+', '.join('`%s`'%t['name'] for t in m['triggers'])+'.')
        out.append('')
doc=os.path.join(ROOT,'docs/devices.md')
text=open(doc).read()
a=text.index('## The models\n')+len('## The models\n')
b=text.index('## Hubs\n')
open(doc,'w').write(text[:a]+'\n'+'\n'.join(out)+'\n'+text[b:])
