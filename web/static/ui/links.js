// @ts-check
/**
 * Chat text to page nodes, safely: the text is split into plain runs and
 * web links; runs become text nodes and links anchors whose address is
 * checked to be http(s). Nothing from another person is ever parsed as HTML.
 */

/**
 * splitLinks cuts text into runs, each with an href when it is a link.
 * Trailing punctuation stays outside a link ("see https://x.org.").
 * @param {string} text
 * @returns {{text: string, href?: string}[]}
 */
export function splitLinks(text) {
  /** @type {{text: string, href?: string}[]} */
  const out = [];
  const re = /\b(?:https?:\/\/|www\.)[^\s<>"]+/giu;
  let last = 0;
  for (const m of text.matchAll(re)) {
    let link = m[0];
    const trail = /[.,;:!?)\]'"]+$/u.exec(link);
    if (trail) link = link.slice(0, -trail[0].length);
    const at = m.index ?? 0;
    let href;
    try {
      const u = new URL(/^www\./i.test(link) ? `https://${link}` : link);
      if (u.protocol === 'http:' || u.protocol === 'https:') href = u.href;
    } catch {
      href = undefined;
    }
    if (!href) continue;
    if (at > last) out.push({ text: text.slice(last, at) });
    out.push({ text: link, href });
    last = at + link.length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

/**
 * linkify returns page nodes for chat text.
 * @param {string} text
 * @returns {Node[]}
 */
export function linkify(text) {
  return splitLinks(text).map((r) => {
    if (!r.href) return document.createTextNode(r.text);
    const a = document.createElement('a');
    a.href = r.href;
    a.rel = 'noopener noreferrer nofollow';
    a.target = '_blank';
    a.textContent = r.text;
    return a;
  });
}
