// Pitboss table-screen widgets: plain custom elements, no dependencies, no build step.
//
//   <pitboss-channel player="p-1" token="…" gateway="https://gateway.example">
//     <pitboss-points></pitboss-points> <pitboss-missions></pitboss-missions>
//     <pitboss-toast></pitboss-toast> <pitboss-break></pitboss-break>
//     <pitboss-leaderboard board="points-per-game-daily:BLACKJACK:2026-12-02"></pitboss-leaderboard>
//   </pitboss-channel>
//
// The channel holds the one connection all its widgets share: the player's view
// (GET /gateway/v1/players/{id}) and the live stream (a WebSocket, Server-Sent Events where
// one cannot be opened), reopened with the last cursor so nothing is missed or repeated. Set
// `channel.token` to a fresh token before the old one expires: reconnects use the newest.
// `transport="sse"` skips the WebSocket (`data-state` tells connecting, live, offline, closed).
// Widgets render in shadow DOM and are themed only by CSS custom properties (--pitboss-*),
// which cross the shadow boundary; see themes/*.css and docs/player-channel.md.

const STREAM_TYPES = [
  "reward_issued",
  "mission_progress",
  "mission_completed",
  "level_up",
  "cooldown_started",
  "cooldown_ended",
  "boost_started",
  "boost_used",
  "boost_ended",
  "reality_check",
  "keepalive",
  "reconnect",
  "gone",
];
// Messages after which the player's view (points, level, missions) has changed.
const VIEW_CHANGES = new Set(["reward_issued", "mission_progress", "mission_completed", "level_up"]);
// The view is re-read after these delays (ms): the worker writes a player's state right after
// the decisions it pushes, so the first read may still find the state before them.
const VIEW_REREADS = [300, 1500];
// Failed WebSocket opens before falling back to Server-Sent Events.
const SOCKET_TRIES = 2;
const RETRY_MAX_MS = 30000;

const BASE_CSS = `
  :host { font-family: var(--pitboss-font, system-ui, sans-serif); color: var(--pitboss-fg, #1d2420); }
  .panel { background: var(--pitboss-bg, #f7f5ef); border-radius: var(--pitboss-radius, 10px);
    box-shadow: var(--pitboss-shadow, 0 2px 8px rgb(0 0 0 / 0.15)); padding: 0.75rem 1rem; }
  .muted { color: var(--pitboss-muted, #5b625e); font-size: 0.85em; }
  .track { height: 0.6rem; border-radius: 0.3rem; overflow: hidden; background: var(--pitboss-track, #dcd8cc); }
  .fill { height: 100%; width: 0; background: var(--pitboss-accent, #1f6f4a); transition: width 0.4s ease; }
  button { font: inherit; cursor: pointer; }
`;

function sheet(css) {
  // Constructed style sheets: no inline <style>, so a strict style-src policy holds.
  const made = new CSSStyleSheet();
  made.replaceSync(BASE_CSS + css);
  return made;
}

function words(id) {
  // "baccarat-banker-x3" -> "Baccarat banker x3"
  const text = String(id).replace(/[-_:]+/g, " ").trim();
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// What a reward is, until its own message (the rule's text) is fetched.
function rewardTitle(kind, amount) {
  switch (kind) {
    case "POINTS":
      return `+${amount} points`;
    case "XP":
      return `+${amount} XP`;
    case "BADGE":
      return "New badge";
    case "WHEEL_SPIN":
      return "A wheel spin for you";
    case "FREE_SIDE_BET":
      return "A free side bet for you";
    case "CASHBACK_OFFER":
      return "A cashback offer for you";
    case "MULTIPLIER":
      return "A multiplier for you";
    default:
      return "A reward for you";
  }
}

class PitbossChannel extends HTMLElement {
  static observedAttributes = ["player", "token", "gateway"];

  constructor() {
    super();
    this.view = null;
    this.cursor = null;
    this.stream = null;
    this.useEvents = false;
    this.socketFailures = 0;
    this.retries = 0;
    this.retryTimer = null;
    this.rereads = [];
    this.live = false;
  }

  get token() {
    return this.getAttribute("token") || "";
  }

  set token(value) {
    this.setAttribute("token", value);
  }

  get playerUrl() {
    const base = (this.getAttribute("gateway") || location.origin).replace(/\/+$/, "");
    return `${base}/gateway/v1/players/${encodeURIComponent(this.getAttribute("player"))}`;
  }

  connectedCallback() {
    this.open();
  }

  disconnectedCallback() {
    this.shut();
  }

  attributeChangedCallback(name, old) {
    // another player or gateway: start over (a new token is used from the next reconnect)
    if (name !== "token" && old !== null && this.live) this.shut();
    if (this.isConnected) this.open();
  }

  open() {
    if (this.live || !this.getAttribute("player") || !this.token) return;
    this.live = true;
    this.useEvents = this.getAttribute("transport") === "sse"; // e.g. behind a proxy without WebSocket
    this.state("connecting");
    this.readView();
    this.connect();
  }

  shut() {
    this.live = false;
    clearTimeout(this.retryTimer);
    this.rereads.forEach(clearTimeout);
    this.stream?.close();
    this.stream = null;
    this.state("closed");
  }

  state(value) {
    this.dataset.state = value; // for styling, and for tests: connecting, live, offline, closed
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  request(path, init = {}) {
    const headers = { Authorization: `Bearer ${this.token}`, ...(init.headers || {}) };
    return fetch(this.playerUrl + path, { ...init, headers, cache: "no-store" });
  }

  async readView() {
    try {
      const answer = await this.request("");
      if (!answer.ok) return;
      this.view = await answer.json();
      this.emit("pitboss-view", this.view);
    } catch {
      // offline: the next message or reconnect reads it again
    }
  }

  // The reward's own message (the CRM manager's text), from the recent rewards; null if it
  // has none, or the gateway has not read it after a few tries.
  async rewardMessage(rewardId) {
    for (const wait of [0, ...VIEW_REREADS]) {
      await new Promise((resolve) => setTimeout(resolve, wait));
      try {
        const answer = await this.request("/rewards?limit=20");
        if (!answer.ok) return null;
        const { rewards } = await answer.json();
        const reward = rewards.find((r) => r.reward_id === rewardId);
        if (reward) return reward.message;
      } catch {
        // not reached: try again
      }
    }
    return null;
  }

  // Posts an interaction ({reward_id} or {message_id} in `about`); retried with the same id
  // while the gateway answers 503 or cannot be reached.
  async interact(action, about, surface) {
    const body = JSON.stringify({
      action,
      ...about,
      surface,
      interaction_id: crypto.randomUUID(),
      occurred_at: Date.now(),
    });
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        const answer = await this.request("/interactions", {
          method: "POST",
          body,
          headers: { "Content-Type": "application/json" },
        });
        if (answer.status !== 503) return answer.ok;
      } catch {
        // not reached: try again
      }
      await new Promise((resolve) => setTimeout(resolve, 1000 * (attempt + 1)));
    }
    return false;
  }

  streamUrl(scheme) {
    const url = new URL(`${this.playerUrl}/stream`, location.href);
    if (scheme) url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("access_token", this.token);
    if (this.cursor) url.searchParams.set("cursor", this.cursor);
    return url.href;
  }

  connect() {
    if (!this.live) return;
    if (this.useEvents) this.openEvents();
    else this.openSocket();
  }

  openSocket() {
    const socket = new WebSocket(this.streamUrl("ws"));
    let opened = false;
    this.stream = socket;
    socket.onopen = () => {
      opened = true;
      this.opened();
    };
    socket.onmessage = (event) => this.receive(JSON.parse(event.data));
    socket.onclose = () => {
      if (this.stream !== socket) return;
      if (!opened && ++this.socketFailures >= SOCKET_TRIES) this.useEvents = true;
      this.lost();
    };
  }

  openEvents() {
    const events = new EventSource(this.streamUrl());
    this.stream = events;
    events.onopen = () => this.opened();
    for (const type of STREAM_TYPES) {
      events.addEventListener(type, (event) => this.receive(JSON.parse(event.data)));
    }
    // EventSource would retry with the token it was opened with: retry here, with the newest.
    events.onerror = () => {
      if (this.stream !== events) return;
      events.close();
      this.lost();
    };
  }

  opened() {
    this.retries = 0;
    this.state("live");
  }

  lost() {
    this.stream = null;
    if (!this.live) return;
    this.state("offline");
    const delay = Math.min(RETRY_MAX_MS, 1000 * 2 ** this.retries);
    this.retries += 1;
    this.retryTimer = setTimeout(() => {
      this.readView(); // what changed while away (cool-down included)
      this.connect();
    }, delay);
  }

  receive(message) {
    if (message.cursor) this.cursor = message.cursor;
    if (message.type === "keepalive") return;
    if (message.type === "reconnect") {
      this.stream?.close(); // WebSocket: its close handler reconnects; EventSource: below
      if (this.stream instanceof EventSource) this.lost();
      return;
    }
    if (message.type === "gone") {
      this.shut();
      this.emit("pitboss-gone", message);
      return;
    }
    this.emit("pitboss-message", message);
    if (VIEW_CHANGES.has(message.type)) {
      this.rereads.forEach(clearTimeout);
      this.rereads = VIEW_REREADS.map((ms) => setTimeout(() => this.readView(), ms));
    }
  }
}

// A widget: finds its channel (the enclosing <pitboss-channel>, or the one whose id its
// `channel` attribute names), renders in shadow DOM, and follows the channel's events.
class PitbossWidget extends HTMLElement {
  static css = "";

  connectedCallback() {
    if (!this.shadowRoot) {
      const root = this.attachShadow({ mode: "open" });
      root.adoptedStyleSheets = [sheet(this.constructor.css)];
      this.render(root);
    }
    const named = this.getAttribute("channel");
    this.channel = named ? document.getElementById(named) : this.closest("pitboss-channel");
    if (!this.channel) return;
    this.listeners = {
      "pitboss-view": (event) => this.showView(event.detail),
      "pitboss-message": (event) => this.showMessage(event.detail),
    };
    for (const [type, listener] of Object.entries(this.listeners)) {
      this.channel.addEventListener(type, listener);
    }
    if (this.channel.view) this.showView(this.channel.view);
  }

  disconnectedCallback() {
    for (const [type, listener] of Object.entries(this.listeners || {})) {
      this.channel?.removeEventListener(type, listener);
    }
  }

  showView() {}

  showMessage() {}
}

// Points and the level bar: level, points, and the XP progress to the next level.
class PitbossPoints extends PitbossWidget {
  static css = `
    .row { display: flex; justify-content: space-between; align-items: baseline; gap: 1rem; }
    .level { font-weight: 600; }
    .points { font-size: 1.4em; font-weight: 700; color: var(--pitboss-points, var(--pitboss-fg, #1d2420)); }
    .track { margin: 0.5rem 0 0.25rem; }
  `;

  render(root) {
    root.innerHTML = `
      <div class="panel" part="panel">
        <div class="row"><span class="level" part="level">Level -</span>
          <span><span class="points" part="points">-</span> <span class="muted">points</span></span></div>
        <div class="track" role="progressbar" aria-label="Progress to the next level"
          aria-valuemin="0" aria-valuemax="100"><div class="fill" part="bar"></div></div>
        <div class="muted next"></div>
      </div>`;
  }

  showView(view) {
    const root = this.shadowRoot;
    root.querySelector(".level").textContent = `Level ${view.level}`;
    root.querySelector(".points").textContent = view.points.toLocaleString();
    const next = view.next_level;
    const percent = next ? Math.round(next.progress * 100) : 100;
    root.querySelector(".fill").style.width = `${percent}%`;
    root.querySelector(".track").setAttribute("aria-valuenow", String(percent));
    root.querySelector(".next").textContent = next
      ? `${view.xp} / ${next.xp} XP to level ${next.level}`
      : `${view.xp} XP: top level`;
  }
}

// Missions in progress, each with its steps.
class PitbossMissions extends PitbossWidget {
  static css = `
    ul { list-style: none; margin: 0; padding: 0; display: grid; gap: 0.6rem; }
    .name { display: flex; justify-content: space-between; gap: 1rem; margin-bottom: 0.25rem; }
    .done .fill { background: var(--pitboss-done, var(--pitboss-accent, #1f6f4a)); }
    .empty { margin: 0; }
  `;

  render(root) {
    root.innerHTML = `<div class="panel" part="panel"><ul></ul>
      <p class="muted empty">No missions yet.</p></div>`;
  }

  showView(view) {
    const root = this.shadowRoot;
    const list = root.querySelector("ul");
    list.replaceChildren();
    for (const mission of view.missions) {
      const item = document.createElement("li");
      const target = mission.target ?? mission.steps;
      item.dataset.mission = mission.mission;
      item.classList.toggle("done", mission.completed);
      item.innerHTML = `<div class="name"><span></span><span class="muted"></span></div>
        <div class="track"><div class="fill"></div></div>`;
      item.querySelector(".name span").textContent = words(mission.mission);
      item.querySelector(".name .muted").textContent = mission.completed
        ? "Complete"
        : `${mission.steps} / ${target}`;
      item.querySelector(".fill").style.width = `${Math.round((100 * mission.steps) / Math.max(target, 1))}%`;
      list.append(item);
    }
    root.querySelector(".empty").hidden = view.missions.length > 0;
  }
}

// Reward toasts: one per reward issued, for `duration` ms (default 8000). Shown, clicked and
// dismissed (the close button) are posted as interactions; a toast that times out is not.
class PitbossToast extends PitbossWidget {
  static css = `
    :host { position: fixed; inset: auto 1rem 1rem auto; z-index: 1000; display: grid; gap: 0.5rem; }
    .toast { display: flex; align-items: stretch; border-radius: var(--pitboss-radius, 10px);
      background: var(--pitboss-toast-bg, #1f6f4a); color: var(--pitboss-toast-fg, #fff);
      box-shadow: var(--pitboss-shadow, 0 2px 8px rgb(0 0 0 / 0.25)); max-width: 22rem; }
    .open { flex: 1; text-align: left; border: 0; background: none; color: inherit; padding: 0.75rem 1rem; }
    .close { border: 0; background: none; color: inherit; padding: 0 0.75rem; font-size: 1.2em; }
  `;

  render(root) {
    root.innerHTML = "";
  }

  get duration() {
    return Number(this.getAttribute("duration") || 8000);
  }

  showMessage(message) {
    if (message.type !== "reward_issued") return;
    const about = { reward_id: message.reward_id };
    const toast = document.createElement("div");
    toast.className = "toast";
    toast.setAttribute("part", "toast");
    toast.setAttribute("role", "status");
    toast.dataset.reward = message.reward_id;
    toast.innerHTML = `<button class="open" part="toast-text"></button>
      <button class="close" aria-label="Dismiss">&times;</button>`;
    const text = toast.querySelector(".open");
    text.textContent = rewardTitle(message.kind, message.amount);
    const end = (action) => {
      clearTimeout(timer);
      toast.remove();
      if (action) this.channel.interact(action, about, "pitboss-toast");
    };
    text.addEventListener("click", () => end("clicked"));
    toast.querySelector(".close").addEventListener("click", () => end("dismissed"));
    const timer = setTimeout(() => end(null), this.duration);
    this.shadowRoot.append(toast);
    this.channel.interact("shown", about, "pitboss-toast");
    this.channel.rewardMessage(message.reward_id).then((said) => {
      if (said) text.textContent = said;
    });
  }
}

// A leaderboard: the top `limit` rows (rank and score; the player's own row marked) of the
// board `board` (its key, board:game:period) and the player's own rank and score, read again
// with the view after each change.
class PitbossLeaderboard extends PitbossWidget {
  static css = `
    ol { list-style: none; margin: 0 0 0.5rem; padding: 0; display: grid; gap: 0.2rem; }
    li { display: flex; justify-content: space-between; gap: 1rem; }
    li.you { font-weight: 700; color: var(--pitboss-accent, #1f6f4a); }
  `;

  render(root) {
    root.innerHTML = `<div class="panel" part="panel"><ol part="leaderboard"></ol>
      <div class="muted mine"></div></div>`;
  }

  async showView() {
    const board = this.getAttribute("board");
    if (!board) return;
    const limit = Number(this.getAttribute("limit") || 10);
    try {
      const answer = await this.channel.request(
        `/leaderboards/${encodeURIComponent(board)}?limit=${limit}`,
      );
      if (answer.ok) this.showBoard(await answer.json());
    } catch {
      // offline: the next view reads it again
    }
  }

  showBoard(body) {
    const rows = body.top.map((row) => {
      const item = document.createElement("li");
      item.classList.toggle("you", row.you);
      item.innerHTML = "<span></span><span></span>";
      item.children[0].textContent = row.you ? `${row.rank}. You` : `${row.rank}.`;
      item.children[1].textContent = row.score.toLocaleString();
      return item;
    });
    this.shadowRoot.querySelector("ol").replaceChildren(...rows);
    const { rank, score } = body.you;
    this.shadowRoot.querySelector(".mine").textContent = rank
      ? `You: #${rank}, ${score.toLocaleString()}`
      : `You: ${score.toLocaleString()}, not in the top ${body.size ?? 0}`;
  }
}

// The take-a-break pop-up: a modal dialog when a cool-down starts (or is running when the
// page opens), calm on purpose: no celebration, no motion, no gold. It stays until the player
// acknowledges it (Escape does not close it); it closes itself when the cool-down ends. Its
// words can be replaced with slots "title" and "text" (e.g. in the player's language).
// A reality check (time played, net result) is its softer variant: a notice, not modal, in the
// ruleset's own words, until the player acknowledges it (posted as "dismissed").
class PitbossBreak extends PitbossWidget {
  static css = `
    dialog { max-width: 28rem; border: 1px solid var(--pitboss-break-border, #9aa5a0);
      border-radius: var(--pitboss-radius, 10px); padding: 1.5rem 1.75rem;
      background: var(--pitboss-break-bg, #eef1f0); color: var(--pitboss-break-fg, #1f2a27);
      font-family: var(--pitboss-font, system-ui, sans-serif); line-height: 1.5; }
    dialog::backdrop { background: var(--pitboss-backdrop, rgb(20 28 26 / 0.6)); }
    h2 { margin: 0 0 0.5rem; font-size: 1.25rem; font-weight: 600; }
    p { margin: 0 0 1.25rem; }
    button { border: 0; border-radius: 6px; padding: 0.6rem 1.2rem;
      background: var(--pitboss-break-accent, #3f5f59); color: var(--pitboss-break-accent-fg, #fff); }
    .notice { position: fixed; inset: 1rem 1rem auto auto; z-index: 1000; max-width: 24rem;
      border: 1px solid var(--pitboss-break-border, #9aa5a0); border-radius: var(--pitboss-radius, 10px);
      padding: 1rem 1.25rem; background: var(--pitboss-break-bg, #eef1f0);
      color: var(--pitboss-break-fg, #1f2a27); line-height: 1.5; }
    .notice p { margin: 0 0 0.75rem; }
  `;

  render(root) {
    root.innerHTML = `
      <dialog part="dialog" aria-labelledby="title" aria-describedby="text">
        <h2 id="title"><slot name="title">Time for a short break</slot></h2>
        <p id="text"><slot name="text">Rewards and offers are paused for a while.
          Step away from the table for a few minutes; it will be here when you are back.</slot></p>
        <p class="until"></p>
        <button type="button" autofocus>OK, I'll take a break</button>
      </dialog>
      <div class="notice" part="notice" role="status" hidden>
        <p class="reality"></p>
        <button type="button">OK</button>
      </div>`;
    this.dialog = root.querySelector("dialog");
    this.dialog.addEventListener("cancel", (event) => event.preventDefault());
    this.notice = root.querySelector(".notice");
    this.notice.querySelector("button").addEventListener("click", () => {
      this.notice.hidden = true;
      this.channel.interact("dismissed", { message_id: this.notice.dataset.message }, "pitboss-break");
    });
    this.dialog.querySelector("button").addEventListener("click", () => {
      this.dialog.close();
      this.acknowledged = this.endsAt;
      if (this.messageId) {
        this.channel.interact("dismissed", { message_id: this.messageId }, "pitboss-break");
      }
    });
  }

  show(endsAt, messageId) {
    this.endsAt = endsAt;
    this.messageId = messageId;
    const until = new Date(endsAt).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    this.shadowRoot.querySelector(".until").textContent = `Paused until ${until}.`;
    if (!this.dialog.open) this.dialog.showModal();
    if (messageId) this.channel.interact("shown", { message_id: messageId }, "pitboss-break");
  }

  showView(view) {
    const running = view.cooldown && view.cooldown.ends_at > Date.now();
    if (running && !this.dialog.open && this.acknowledged !== view.cooldown.ends_at) {
      this.show(view.cooldown.ends_at, null);
    }
  }

  remind(message) {
    this.notice.querySelector(".reality").textContent = message.message;
    this.notice.dataset.message = message.message_id;
    this.notice.hidden = false;
    this.channel.interact("shown", { message_id: message.message_id }, "pitboss-break");
  }

  showMessage(message) {
    if (message.type === "reality_check") this.remind(message);
    if (message.type === "cooldown_started") this.show(message.ends_at, message.message_id);
    if (message.type === "cooldown_ended" && this.dialog.open) this.dialog.close();
  }
}

customElements.define("pitboss-channel", PitbossChannel);
customElements.define("pitboss-points", PitbossPoints);
customElements.define("pitboss-missions", PitbossMissions);
customElements.define("pitboss-toast", PitbossToast);
customElements.define("pitboss-break", PitbossBreak);
customElements.define("pitboss-leaderboard", PitbossLeaderboard);
