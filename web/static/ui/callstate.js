// @ts-check
/**
 * The call screen's state, in one object that only CallView changes (then
 * it re-renders): the members with their media and room state, and the
 * user's view choices. No DOM access.
 */

/** @typedef {import('../lib/roomextras.js').MemberState} MemberState */
/** @typedef {import('../lib/conference.js').RemoteTrack} RemoteTrack */

/**
 * @typedef {object} Member
 * @property {string} nick the MUC nick
 * @property {string} displayName
 * @property {boolean} self
 * @property {string} role moderator, participant, visitor
 * @property {string} affiliation owner, admin, member, none
 * @property {string[]} permissions what the room lets the member do (docs/PERMISSIONS.md)
 * @property {string[]} muted media a moderator muted at the server: audio, video, screen
 * @property {boolean} phone a phone call, through the SIP gateway (its presence says so)
 * @property {MemberState} state what the member's presence says
 * @property {MediaStream|null} camera the camera picture (own: the local stream)
 * @property {MediaStream|null} screen a shared screen, when there is one
 * @property {RemoteTrack[]} videos remote video tracks, in arrival order
 * @property {boolean} speaking
 * @property {number} lastSpoke when the member last spoke (ms), 0 if never
 * @property {'good'|'fair'|'poor'|null} quality the connection quality we see
 * @property {number} kbps the bitrate we receive from them (kbit/s, all their tracks)
 */

/**
 * @typedef {object} CallState
 * @property {Map<string, Member>} members by nick
 * @property {'tile'|'speaker'} layout
 * @property {string|null} pinned the tile key pinned in speaker view
 * @property {boolean} fill crop videos to fill tiles (the user's choice)
 * @property {'people'|'chat'|null} panel the side panel open
 * @property {number} unread chat messages since the chat was last open
 * @property {string} dominant the nick the server last named as the dominant speaker, '' before
 */

/** @returns {CallState} */
export function newCallState() {
  return { members: new Map(), layout: 'tile', pinned: null, fill: false, panel: null, unread: 0, dominant: '' };
}

/**
 * newMember makes a member with nothing known yet.
 * @param {string} nick
 * @param {string} displayName
 * @param {boolean} self
 * @returns {Member}
 */
export function newMember(nick, displayName, self) {
  return {
    nick, displayName, self, role: 'participant', affiliation: 'none', permissions: [], muted: [], phone: false,
    state: { audio: 'on', video: 'on', hand: null, screen: false },
    camera: null, screen: null, videos: [], speaking: false, lastSpoke: 0, quality: null, kbps: 0,
  };
}

/**
 * splitVideos tells a member's camera from a shared screen, by the source
 * the library read from the stream (the latest of each wins).
 * @param {RemoteTrack[]} videos
 * @returns {{camera: RemoteTrack|null, screen: RemoteTrack|null}}
 */
export function splitVideos(videos) {
  const last = (/** @type {string} */ source) => videos.filter((v) => v.source === source).at(-1) ?? null;
  return { camera: last('camera'), screen: last('screen') };
}

/**
 * pinnedStreams returns the stream ids whose camera the server must forward
 * to us whatever its lastN (docs/SIGNALLING.md): the pinned member's
 * camera. A pinned screen or our own tile needs none (screens always reach
 * everyone).
 * @param {CallState} s
 * @returns {string[]}
 */
export function pinnedStreams(s) {
  if (!s.pinned || s.pinned.endsWith('#screen')) return [];
  const m = s.members.get(s.pinned);
  const cam = m && !m.self ? splitVideos(m.videos).camera : null;
  return cam?.streamId ? [cam.streamId] : [];
}

/**
 * canModerate says which moderator actions the room grants us over a
 * member, from the permissions the room says we hold (docs/PERMISSIONS.md):
 * mute_others for a mute at the server (microphone or camera), ask_unmute, kick, grant_roles to
 * make a moderator. Lowering a hand is a request between clients, offered
 * to moderators. The server checks again; this only decides which
 * controls to show.
 * @param {Member|undefined} me
 * @param {Member} target
 */
export function canModerate(me, target) {
  const none = { mute: false, muteVideo: false, askUnmute: false, kick: false, promote: false, lowerHand: false };
  if (!me || target.self) return none;
  const may = (/** @type {string} */ p) => me.permissions.includes(p);
  const targetAdmin = target.affiliation === 'owner' || target.affiliation === 'admin';
  const serverMuted = target.muted.includes('audio');
  return {
    mute: may('mute_others') && !serverMuted && target.state.audio === 'on',
    muteVideo: may('mute_others') && !target.muted.includes('video') && target.state.video === 'on',
    askUnmute: may('ask_unmute') && (serverMuted || target.state.audio === 'muted'),
    kick: may('kick') && !targetAdmin,
    promote: may('grant_roles') && target.role !== 'moderator' && !targetAdmin,
    lowerHand: me.role === 'moderator' && target.state.hand !== null,
  };
}
