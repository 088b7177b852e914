#!/usr/bin/python3
"""A push app server (XEP-0357) of the suite's own, built on slixmpp's
external component (XEP-0114, slixmpp.ComponentXMPP), driven by
tests/apps-push.test.js.

It connects to the server's component port as --jid with --secret and
writes JSON lines to stdout: {"event": "online"} once the handshake is
accepted, then {"event": "push", ...} for each notification published to
it, which it acknowledges with an IQ result, as an app server would before
waking the phone through its vendor's service.
Run with Debian's /usr/bin/python3 (python3-slixmpp 1.8).
"""

import argparse
import asyncio
import json
import logging
import sys

import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_PUSH = "urn:xmpp:push:0"
NS_DATA = "jabber:x:data"


def emit(**event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def form_values(x):
    out = {}
    if x is None:
        return out
    for field in x.findall("{%s}field" % NS_DATA):
        value = field.find("{%s}value" % NS_DATA)
        out[field.get("var")] = value.text if value is not None else None
    return out


class PushServer(slixmpp.ComponentXMPP):
    def __init__(self, jid, secret, host, port):
        super().__init__(jid, secret, host, port)
        self.done = asyncio.get_event_loop().create_future()
        self.add_event_handler("session_start", lambda _e: emit(event="online"))
        self.add_event_handler("disconnected", self.on_disconnected)
        self.register_handler(Callback(
            "push publish",
            MatchXPath("{%s}iq/{%s}pubsub" % (self.default_ns, NS_PUBSUB)),
            self.on_publish))

    def on_publish(self, iq):
        ps = iq.xml.find("{%s}pubsub" % NS_PUBSUB)
        publish = ps.find("{%s}publish" % NS_PUBSUB)
        notification = publish.find("{%s}item/{%s}notification" % (NS_PUBSUB, NS_PUSH))
        summary = notification.find("{%s}x" % NS_DATA) if notification is not None else None
        options = ps.find("{%s}publish-options/{%s}x" % (NS_PUBSUB, NS_DATA))
        emit(event="push", type=iq["type"], sender=str(iq["from"]), node=publish.get("node"),
             summary=form_values(summary), options=form_values(options), xml=str(iq))
        iq.reply(clear=True).send()

    def on_disconnected(self, reason):
        emit(event="disconnected", reason=str(reason or ""))
        if not self.done.done():
            self.done.set_result(None)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jid", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    server = PushServer(args.jid, args.secret, args.host, args.port)
    server.connect()
    # Stop when the Node side goes away (stdin closes).
    loop = asyncio.get_event_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    stdin_closed = asyncio.ensure_future(reader.read())
    await asyncio.wait([stdin_closed, server.done], return_when=asyncio.FIRST_COMPLETED)
    server.disconnect(wait=0.5)


if __name__ == "__main__":
    asyncio.run(main())
