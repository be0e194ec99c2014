// The demo page: the player, token and theme from the query string
// (demo.html?player=…&token=…&theme=classic|noir&transport=sse&board=<board key>). It runs before pitboss-widgets.js (module
// scripts run in order), so the channel has its player and token when it is defined.
const query = new URLSearchParams(location.search);
const THEMES = new Set(["classic", "noir"]);
const theme = query.get("theme");
if (THEMES.has(theme)) document.getElementById("theme").href = `themes/${theme}.css`;
const player = query.get("player");
const token = query.get("token");
if (player && token) {
  const channel = document.getElementById("channel");
  channel.setAttribute("player", player);
  channel.setAttribute("token", token);
  if (query.get("transport") === "sse") channel.setAttribute("transport", "sse");
  if (query.get("board")) {
    document.querySelector("pitboss-leaderboard").setAttribute("board", query.get("board"));
    document.getElementById("board").hidden = false;
  }
  document.getElementById("who").textContent = `Player ${player}`;
}
