import { loginXmppjs } from "./lib/xmppjs.js";
for (const [transport, mech, user, domain] of [["websocket","SCRAM-SHA-1","alice"],["websocket","PLAIN","alice"],["tcp","PLAIN","bob"],["tcp","SCRAM-SHA-1","bob"],["websocket","ANONYMOUS",null,"guest.example.test"],["tcp","ANONYMOUS",null,"guest.example.test"]]) {
  try {
    const s = await loginXmppjs({transport, mechanism: mech, user, password: "secret-"+user, domain: domain||"example.test"});
    console.log("OK", transport, mech, s.jid, s.tlsProtocol, s.features.map(f=>f.toString()).join("\n"));
    await s.close();
  } catch (e) { console.log("FAIL", transport, mech, e); }
}
try { await loginXmppjs({transport:"websocket", mechanism:"SCRAM-SHA-1", user:"alice", password:"nope"}); } catch(e) { console.log("expected", e.condition, e.message); }
