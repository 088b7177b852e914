#!/usr/bin/python3
"""A slixmpp client driven by the Node suite (lib/slixmpp.js).

It logs in over TCP with STARTTLS using exactly one SASL mechanism, then
speaks JSON lines: every inbound stanza is written to stdout as
{"event": "stanza", "xml": ...}; commands arrive on stdin:

  {"op": "send", "xml": "<iq xmlns='jabber:client' .../>"}
  {"op": "disco_info" | "disco_items" | "ping", "jid": ..., "tag": ...}
  {"op": "close"}
  {"op": "plugin", "call": ..., "args": {...}, "tag": ...}  (see run_plugin: the
      XEP plugins loaded with --plugins: carbons, MAM, PubSub, avatars,
      blocking, CSI, JMI)

With --reconnect the agent connects again when its TCP connection is lost,
so that XEP-0198 (loaded with --plugins xep_0198) resumes the session.

Plugin commands answer {"event": "reply", "tag": ..., "ok": bool, ...} with
what slixmpp parsed from the server's answer, so its parser is exercised too.
Run with Debian's /usr/bin/python3 (python3-slixmpp 1.8).
"""

import argparse
import asyncio
import base64
import datetime
import json
import logging
import ssl
import sys
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.plugins.xep_0004 import Form


def emit(**event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


class Agent(slixmpp.ClientXMPP):
    def __init__(self, jid, password, mechanism, timeout, plugins=(), reconnect=None):
        super().__init__(jid, password, sasl_mech=mechanism)
        self.reconnect_to = reconnect  # (host, port) to connect to again, or None
        self.step_timeout = timeout
        self.done = asyncio.get_event_loop().create_future()
        self.ending = False  # a close was asked for: do not reconnect
        self.sleeping = False  # "sleep" cut the link: stay away until "wake"
        # The scenarios decide every subscription answer themselves.
        self.auto_authorize = None
        self.auto_subscribe = False
        # The target's certificate is self-signed: do not verify it.
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0199", {"keepalive": False})
        for name in plugins:
            self.register_plugin(name)
        self.add_event_handler("session_resumed", self.on_resumed)
        self.add_filter("in", self.forward)
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_auth", self.on_failed_auth)
        self.add_event_handler("connection_failed", self.on_connection_failed)
        self.add_event_handler("disconnected", self.on_disconnected)

    def forward(self, stanza):
        tag = stanza.xml.tag
        if tag.endswith("}features"):
            mechs = [m.text for m in stanza.xml.iter("{urn:ietf:params:xml:ns:xmpp-sasl}mechanism")]
            emit(event="features", xml=str(stanza), mechanisms=mechs)
        else:
            emit(event="stanza", xml=str(stanza))
        return stanza

    def tls_version(self):
        obj = self.transport.get_extra_info("ssl_object") if self.transport else None
        return obj.version() if obj else None

    def on_start(self, _event):
        emit(event="online", jid=str(self.boundjid), tls=self.tls_version())

    def on_failed_auth(self, failure):
        condition = failure["condition"] if failure is not None else None
        emit(event="auth_failed", condition=condition)
        self.finish()

    def on_connection_failed(self, err):
        emit(event="error", message="connection failed: %s" % (err,))
        self.finish()

    def on_resumed(self, _event):
        emit(event="resumed")

    def on_disconnected(self, reason):
        emit(event="disconnected", reason=str(reason or ""))
        if self.sleeping:
            return
        if self.reconnect_to is not None and not self.ending:
            self.connect(self.reconnect_to, force_starttls=True, disable_starttls=False)
            return
        self.finish()

    def finish(self):
        if not self.done.done():
            self.done.set_result(None)

    async def run_command(self, cmd):
        op = cmd.get("op")
        if op == "send":
            element = ET.fromstring(cmd["xml"])
            self.send(self._build_stanza(element, "jabber:client"))
        elif op in ("disco_info", "disco_items", "ping"):
            await self.plugin_command(op, cmd)
        elif op == "close":
            self.ending = True
            self.disconnect(wait=1.0)
        elif op == "plugin":
            await self.run_plugin(cmd)
        else:
            emit(event="reply", tag=cmd.get("tag"), ok=False, error="unknown op %r" % op)

    async def run_plugin(self, cmd):
        tag = cmd.get("tag")
        try:
            result = await plugin_call(self, cmd["call"], cmd.get("args", {}))
            emit(event="reply", tag=tag, ok=True, **result)
        except IqError as err:
            emit(event="reply", tag=tag, ok=False,
                 condition=err.iq["error"]["condition"], type=err.iq["error"]["type"])
        except IqTimeout:
            emit(event="reply", tag=tag, ok=False, error="timeout")
        except Exception as err:  # report, never die silently mid-scenario
            emit(event="reply", tag=tag, ok=False, error=repr(err))

    async def plugin_command(self, op, cmd):
        tag, jid = cmd.get("tag"), cmd["jid"]
        try:
            if op == "disco_info":
                iq = await self["xep_0030"].get_info(jid=jid, timeout=self.step_timeout)
                info = iq["disco_info"]
                emit(event="reply", tag=tag, ok=True,
                     identities=[list(i) for i in info["identities"]],
                     features=sorted(info["features"]))
            elif op == "disco_items":
                iq = await self["xep_0030"].get_items(jid=jid, timeout=self.step_timeout)
                emit(event="reply", tag=tag, ok=True,
                     items=[str(i[0]) for i in iq["disco_items"]["items"]])
            else:
                rtt = await self["xep_0199"].ping(jid=jid, timeout=self.step_timeout)
                emit(event="reply", tag=tag, ok=True, rtt=rtt)
        except IqError as err:
            emit(event="reply", tag=tag, ok=False,
                 condition=err.iq["error"]["condition"], type=err.iq["error"]["type"])
        except IqTimeout:
            emit(event="reply", tag=tag, ok=False, error="timeout")


def publish_options(opts):
    form = Form()
    form["type"] = "submit"
    form.add_field(var="FORM_TYPE", ftype="hidden",
                   value="http://jabber.org/protocol/pubsub#publish-options")
    for key, value in opts.items():
        form.add_field(var=key, value=value)
    return form


async def plugin_call(agent, call, a):
    """One XEP plugin call; returns what to report."""
    t = agent.step_timeout
    if call == "carbons_enable":
        await agent["xep_0280"].enable(timeout=t)
        return {}
    if call == "mam_iterate":
        # Every message of the query, page by page (RSM max per page).
        start = datetime.datetime.fromisoformat(a["start"]) if a.get("start") else None
        bodies, ids, pages = [], [], set()
        async for msg in agent["xep_0313"].iterate(
                jid=slixmpp.JID(a["jid"]) if a.get("jid") else None,
                with_jid=slixmpp.JID(a["with"]) if a.get("with") else None,
                start=start, rsm={"max": a.get("max", 100)}):
            fwd = msg["mam_result"]["forwarded"]
            bodies.append(fwd["stanza"]["body"])
            ids.append(msg["mam_result"]["id"])
        return {"bodies": bodies, "ids": ids}
    if call == "publish":
        payload = ET.fromstring(a["payload"])
        opts = publish_options(a["options"]) if a.get("options") else None
        iq = await agent["xep_0060"].publish(None, a["node"], id=a.get("id"), payload=payload,
                                            options=opts, timeout=t)
        return {"xml": str(iq)}
    if call == "get_items":
        iq = await agent["xep_0060"].get_items(a["jid"], a["node"], timeout=t)
        return {"xml": str(iq)}
    if call == "avatar_publish":
        data = base64.b64decode(a["data"])
        await agent["xep_0084"].publish_avatar(data, timeout=t)
        await agent["xep_0084"].publish_avatar_metadata(
            items=[{"id": a["id"], "type": "image/png", "bytes": len(data)}], timeout=t)
        return {}
    if call == "caps_presence":
        # Available presence with XEP-0115 caps (the plugin adds them).
        await agent["xep_0115"].update_caps()
        agent.send_presence()
        return {}
    if call == "block":
        await agent["xep_0191"].block([a["jid"]], timeout=t)
        return {}
    if call == "csi":
        if a["state"] == "inactive":
            agent["xep_0352"].send_inactive()
        else:
            agent["xep_0352"].send_active()
        return {}
    if call in ("jmi_propose", "jmi_proceed", "jmi_accept", "jmi_reject", "jmi_retract"):
        fn = getattr(agent["xep_0353"], call[len("jmi_"):])
        if call == "jmi_propose":
            fn(slixmpp.JID(a["to"]), a["sid"], [("urn:xmpp:jingle:apps:rtp:1", "audio")])
        else:
            fn(slixmpp.JID(a["to"]), a["sid"])
        return {}
    if call == "upload":
        # XEP-0363 with slixmpp's plugin: finds upload.<domain> by disco,
        # asks for a slot, PUTs with aiohttp; returns the GET URL.
        import tempfile
        from pathlib import Path
        data = base64.b64decode(a["data"])
        # slixmpp 1.8.3's own discovery (xep_0030 get_info_from_domain)
        # passes coroutines to asyncio.wait, which Python 3.11 refuses: find
        # the service the same way (disco#items, then disco#info) here.
        plugin = agent["xep_0363"]
        items = await agent["xep_0030"].get_items(jid=a["domain"], timeout=t)
        for item in items["disco_items"]["items"]:
            info = await agent["xep_0030"].get_info(jid=item[0], timeout=t)
            if "urn:xmpp:http:upload:0" in info["disco_info"]["features"]:
                plugin.upload_service = info["from"]
                break
        else:
            raise ValueError("no upload service in disco#items of %s" % a["domain"])
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / a["filename"]
            path.write_bytes(data)
            url = await agent["xep_0363"].upload_file(path, content_type=a.get("type"),
                                                      domain=slixmpp.JID(a["domain"]), timeout=t)
        return {"url": url}
    if call == "sleep":
        # A phone going to sleep: the link dies, nothing reconnects until
        # "wake", which resumes the session (XEP-0198) as an app would.
        agent.sleeping = True
        agent.transport.abort()
        return {}
    if call == "wake":
        agent.sleeping = False
        agent.connect(agent.reconnect_to, force_starttls=True, disable_starttls=False)
        return {}
    if call == "cut":
        # Drop the TCP connection without closing the stream.
        agent.transport.abort()
        return {}
    raise ValueError("unknown plugin call %r" % call)


async def read_commands(agent):
    loop = asyncio.get_event_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while not agent.done.done():
        line = await reader.readline()
        if not line:  # the Node side went away: leave too, connected or not
            agent.disconnect(wait=0.5)
            await asyncio.sleep(1.0)
            agent.finish()
            break
        try:
            await agent.run_command(json.loads(line))
        except Exception as err:  # report, never die silently mid-scenario
            emit(event="error", message="command failed: %r" % (err,))


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jid", required=True)
    ap.add_argument("--password", default="")
    ap.add_argument("--mechanism", required=True)
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--plugins", default="", help="comma-separated slixmpp plugins to load")
    ap.add_argument("--reconnect", action="store_true", help="connect again when the connection is lost")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)

    plugins = [p for p in args.plugins.split(",") if p]
    agent = Agent(args.jid, args.password, args.mechanism, args.timeout, plugins,
                  (args.host, args.port) if args.reconnect else None)
    agent.connect((args.host, args.port), force_starttls=True, disable_starttls=False)
    commands = asyncio.ensure_future(read_commands(agent))
    await agent.done
    commands.cancel()


if __name__ == "__main__":
    asyncio.run(main())
