// Stanza helpers on ltx elements, shared by every client adapter so the
// scenarios assert the same way whichever library received the stanza.
import parseXML from "ltx/lib/parse.js";
import { xml } from "@xmpp/xml";

export { xml };

export const NS = Object.freeze({
  client: "jabber:client",
  stanzas: "urn:ietf:params:xml:ns:xmpp-stanzas",
  sasl: "urn:ietf:params:xml:ns:xmpp-sasl",
  discoInfo: "http://jabber.org/protocol/disco#info",
  discoItems: "http://jabber.org/protocol/disco#items",
  ping: "urn:xmpp:ping",
  roster: "jabber:iq:roster",
  muc: "http://jabber.org/protocol/muc",
  mucUser: "http://jabber.org/protocol/muc#user",
  mucAdmin: "http://jabber.org/protocol/muc#admin",
  mucOwner: "http://jabber.org/protocol/muc#owner",
  data: "jabber:x:data",
});

/** parse turns one serialized stanza into an ltx element. */
export function parse(text) {
  return parseXML(text);
}

export function bare(jid) {
  return String(jid).split("/")[0];
}

export function resourceOf(jid) {
  const s = String(jid);
  const i = s.indexOf("/");
  return i < 0 ? "" : s.slice(i + 1);
}

/** stanzaError returns {type, condition} of an error stanza, where condition
 * is the child in the RFC 6120 stanzas namespace (whatever its position). */
export function stanzaError(stanza) {
  const err = stanza.getChild("error");
  if (!err) return null;
  const cond = err.children.find(
    (c) => typeof c !== "string" && c.attrs.xmlns === NS.stanzas && c.name !== "text",
  );
  return { type: err.attrs.type, condition: cond ? cond.name : null, element: err };
}

/** mucStatuses returns the muc#user status codes of a presence, as numbers. */
export function mucStatuses(presence) {
  const x = presence.getChild("x", NS.mucUser);
  if (!x) return [];
  return x.getChildren("status").map((s) => Number(s.attrs.code));
}

/** mucItem returns the muc#user <item/> attributes of a presence, or null. */
export function mucItem(presence) {
  return presence.getChild("x", NS.mucUser)?.getChild("item")?.attrs ?? null;
}

export function isPresenceFrom(from, type) {
  return (s) =>
    s.name === "presence" &&
    s.attrs.from === from &&
    (type === undefined ? !s.attrs.type : s.attrs.type === type);
}

/** features lists the disco#info <feature var=…/> values of a query. */
export function discoFeatures(query) {
  return query.getChildren("feature").map((f) => f.attrs.var);
}

/** dataForm builds a submitted jabber:x:data form from {var: value|[values]}. */
export function submitForm(fields) {
  return xml(
    "x",
    { xmlns: NS.data, type: "submit" },
    Object.entries(fields).map(([name, value]) =>
      xml(
        "field",
        { var: name },
        (Array.isArray(value) ? value : [value]).map((v) => xml("value", {}, String(v))),
      ),
    ),
  );
}

let counter = 0;
/** uniqueName gives per-run unique room names and ids, so reruns against a
 * long-lived server do not collide. */
export function uniqueName(prefix) {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}
