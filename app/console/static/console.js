// Log in (the pasted token becomes the session cookie) and log out, on every console page.
"use strict";
(() => {
  const form = document.getElementById("login");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = document.getElementById("login-error");
      const token = document.getElementById("token").value.trim();
      const response = await fetch("/console/session", {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
        credentials: "same-origin",
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        error.textContent = body.detail || `refused (${response.status})`;
        error.hidden = false;
        return;
      }
      // the page asked for, or the viewer's first page when that was the overview's address
      if (location.pathname === "/console/" && body.home) location.assign(body.home);
      else location.reload();
    });
  }
  for (const button of document.querySelectorAll("#logout")) {
    button.addEventListener("click", async () => {
      await fetch("/console/session", { method: "DELETE", credentials: "same-origin" });
      location.assign("/console/");
    });
  }
})();
