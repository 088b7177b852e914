#!/usr/bin/python3
"""A slixmpp client driven by the Node suite (lib/slixmpp.js).

It logs in over TCP with STARTTLS using exactly one SASL mechanism, then
speaks JSON lines: every inbound stanza is written to stdout as
{"event": "stanza", "xml": ...}; commands arrive on stdin:

  {"op": "send", "xml": "<iq xmlns='jabber:client' .../>"}
  {"op": "disco_info" | "disco_items" | "ping", "jid": ..., "tag": ...}
  {"op": "close"}

Plugin commands answer {"event": "reply", "tag": ..., "ok": bool, ...} with
what slixmpp parsed from the server's answer, so its parser is exercised too.
Run with Debian's /usr/bin/python3 (python3-slixmpp 1.8).
"""

import argparse
import asyncio
import json
import logging
import ssl
import sys
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout


def emit(**event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


class Agent(slixmpp.ClientXMPP):
    def __init__(self, jid, password, mechanism, timeout):
        super().__init__(jid, password, sasl_mech=mechanism)
        self.step_timeout = timeout
        self.done = asyncio.get_event_loop().create_future()
        # The scenarios decide every subscription answer themselves.
        self.auto_authorize = None
        self.auto_subscribe = False
        # The target's certificate is self-signed: do not verify it.
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0199", {"keepalive": False})
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

    def on_disconnected(self, reason):
        emit(event="disconnected", reason=str(reason or ""))
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
            self.disconnect(wait=1.0)
        else:
            emit(event="reply", tag=cmd.get("tag"), ok=False, error="unknown op %r" % op)

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
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)

    agent = Agent(args.jid, args.password, args.mechanism, args.timeout)
    agent.connect((args.host, args.port), force_starttls=True, disable_starttls=False)
    commands = asyncio.ensure_future(read_commands(agent))
    await agent.done
    commands.cancel()


if __name__ == "__main__":
    asyncio.run(main())
