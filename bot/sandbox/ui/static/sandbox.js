// The sandbox page's behaviour: poll for fragments, and turn clicks and typing into the sandbox's /ui/ calls.
// No framework and no build step; the server renders all HTML (escaped), this only swaps it in.
(function () {
  "use strict";

  const app = document.getElementById("sandbox");
  const base = app.dataset.base;
  const pollMs = Number(app.dataset.pollMs) || 1000;
  const state = {
    user: app.dataset.user,
    channel: app.dataset.channel,
    version: Number(app.dataset.version),
    modalKey: app.dataset.modalKey || "",
  };
  const shown = { channels: null, header: null, messages: null };
  let timer = null;
  let polling = false;
  let forceNext = false;

  const $ = (id) => document.getElementById(id);

  function say(text, isError) {
    const line = $("status");
    line.textContent = text;
    line.classList.toggle("error", Boolean(isError));
  }

  async function post(path, body) {
    let data = {};
    try {
      const response = await fetch(`${base}/ui/${path}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      try {
        data = await response.json();
      } catch (_) {
        data = { ok: false, error: `HTTP ${response.status}` };
      }
      if (!response.ok && data.ok === undefined) data.ok = false;
    } catch (error) {
      data = { ok: false, error: `the sandbox did not answer (${error})` };
    }
    if (data.ok === false) say(data.error || "failed", true);
    schedule(50);
    return data;
  }

  // -- live updates -------------------------------------------------------------------------

  function schedule(delay) {
    clearTimeout(timer);
    timer = setTimeout(poll, delay);
  }

  async function poll(force) {
    // A forced redraw asked for while a poll is on its way is kept for the next one, not lost.
    if (force === true) forceNext = true;
    if (polling) return schedule(pollMs);
    polling = true;
    const asked = { user: state.user, channel: state.channel };
    const forced = forceNext;
    forceNext = false;
    try {
      const query = new URLSearchParams({
        user: asked.user,
        channel: asked.channel,
        version: forced ? -1 : state.version,
      });
      const response = await fetch(`${base}/ui/poll?${query}`, { cache: "no-store" });
      if (!response.ok) return;
      const data = await response.json();
      // The person or channel changed while this was on its way: its answer is for the old choice.
      if (asked.user !== state.user || asked.channel !== state.channel) forceNext = true;
      else apply(data);
    } catch (_) {
      // the server restarting: keep polling, the next answer redraws everything
      if (forced) forceNext = true;
    } finally {
      polling = false;
      schedule(forceNext ? 0 : pollMs);
    }
  }

  function keepFocus(container, swap) {
    const active = document.activeElement;
    const focusedId = active && container.contains(active) ? active.id : null;
    swap();
    if (focusedId) {
      const again = document.getElementById(focusedId);
      if (again) again.focus();
    }
  }

  function replace(id, key, html) {
    if (html === undefined || shown[key] === html) return true;
    const container = $(id);
    // Never redraw under an open confirm dialog: the click it is asking about would be lost.
    if (container.querySelector("dialog[open]")) return false;
    const list = container.querySelector(".message-list");
    const atBottom = key === "messages" && (!list || container.scrollHeight - container.scrollTop - container.clientHeight < 40);
    keepFocus(container, () => {
      container.innerHTML = html;
    });
    shown[key] = html;
    if (atBottom) container.scrollTop = container.scrollHeight;
    return true;
  }

  function apply(data) {
    if (data.channels === undefined) return;
    if (data.channel && data.channel !== state.channel) {
      state.channel = data.channel;
      remember();
    }
    let complete = replace("channel-list", "channels", data.channels);
    complete = replace("channel-header", "header", data.header) && complete;
    complete = replace("messages", "messages", data.messages) && complete;
    if (data.modal_key !== state.modalKey) showModal(data.modal, data.modal_key);
    // Something held back (a confirm dialog is open): ask for everything again on the next poll.
    if (complete) state.version = data.version;
  }

  function remember() {
    const query = new URLSearchParams({ user: state.user, channel: state.channel });
    history.replaceState(null, "", `${base}?${query}`);
    app.dataset.user = state.user;
    app.dataset.channel = state.channel;
  }

  function refresh() {
    shown.channels = shown.header = shown.messages = null;
    poll(true);
  }

  // -- modals -------------------------------------------------------------------------------

  function currentModal() {
    return $("modal-root").querySelector("dialog.modal");
  }

  function showModal(html, key) {
    const root = $("modal-root");
    const old = currentModal();
    if (old && old.open) old.close("replaced");
    root.innerHTML = html || "";
    state.modalKey = key || "";
    const dialog = currentModal();
    if (!dialog) return;
    dialog.showModal();
    const invalid = dialog.querySelector("[aria-invalid='true']");
    const first = invalid || dialog.querySelector("[data-input-block], button, select, a[href]");
    if (first) first.focus();
  }

  function fieldsOf(dialog) {
    const fields = {};
    dialog.querySelectorAll("[data-input-block]").forEach((control) => {
      const block = control.dataset.inputBlock;
      fields[block] = fields[block] || {};
      fields[block][control.dataset.inputAction] = control.value === "" ? null : control.value;
    });
    return fields;
  }

  async function submitModal(dialog) {
    const form = dialog.querySelector("form");
    if (!form.reportValidity()) return;  // Slack's client refuses empty required fields the same way
    const button = dialog.querySelector("[data-testid='modal-submit']");
    if (button) button.disabled = true;
    const answer = await post("submit", { user: state.user, view_id: dialog.dataset.viewId, fields: fieldsOf(dialog) });
    if (button) button.disabled = false;
    if (answer.ok && answer.errors && Object.keys(answer.errors).length) say("Warroom refused the form: see the fields.", true);
    else if (answer.ok) say("Submitted.");
  }

  async function closeModal(dialog) {
    const answer = await post("close", { user: state.user, view_id: dialog.dataset.viewId });
    if (answer.ok) say("");
  }

  // -- actions ------------------------------------------------------------------------------

  function surfaceOf(element) {
    const surface = element.closest("[data-surface]");
    if (!surface) return null;
    if (surface.dataset.surface === "view") return { view_id: surface.dataset.viewId };
    return { channel: surface.dataset.channel, ts: surface.dataset.ts };
  }

  async function act(element, selected) {
    const surface = surfaceOf(element);
    if (!surface) return;
    const body = Object.assign(
      { user: state.user, action_id: element.dataset.actionId, block_id: element.dataset.blockId || null },
      surface,
    );
    if (selected !== undefined) body.selected = selected;
    const label = (element.textContent || element.dataset.actionId).trim();
    const answer = await post("action", body);
    if (answer.ok) say(`Sent “${label}” to Warroom.`);
  }

  document.addEventListener("click", (event) => {
    const target = event.target.closest("a, button");
    if (!target) return;
    if (target.matches("[data-channel-id], [data-channel-link]")) {
      event.preventDefault();
      state.channel = target.dataset.channelId || target.dataset.channelLink;
      remember();
      refresh();
      return;
    }
    if (target.matches("[data-sample-source]")) {
      sendSample(target);
      return;
    }
    if (target.matches("[data-modal-close]")) {
      closeModal(target.closest("dialog"));
      return;
    }
    if (target.matches("[data-react]")) {
      const message = target.closest("[data-surface]");
      post("react", { user: state.user, channel: message.dataset.channel, ts: message.dataset.ts });
      return;
    }
    if (target.matches("[data-dismiss]")) {
      post("dismiss", { user: state.user, ts: target.closest("[data-surface]").dataset.ts });
      return;
    }
    if (target.matches("[data-action-id]")) {
      if (target.hasAttribute("data-link")) {
        act(target);  // the browser follows the link; Slack still tells the app about the click
        return;
      }
      if (target.hasAttribute("data-confirm")) {
        const dialog = document.getElementById(`${target.id}-confirm`);
        dialog.returnValue = "";
        dialog.showModal();
        dialog.addEventListener(
          "close",
          () => {
            if (dialog.returnValue === "confirm") act(target);
            schedule(50);
          },
          { once: true },
        );
        return;
      }
      act(target);
    }
  });

  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target.id === "user-switcher") {
      state.user = target.value;
      remember();
      refresh();
      say(`Acting as ${target.options[target.selectedIndex].text}.`);
      return;
    }
    // Inputs of a modal's input blocks are sent on submit, as in Slack; other selects and pickers act at once.
    if (target.matches("[data-action-id]") && !target.matches("[data-input-block]") && target.value !== "") {
      act(target, target.value);
    }
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.id === "composer") {
      event.preventDefault();
      sendCommand(form);
      return;
    }
    const dialog = form.closest("dialog.modal");
    if (dialog) {
      event.preventDefault();
      submitModal(dialog);
    }
  });

  // Esc on a modal: Slack closes it.
  document.addEventListener(
    "cancel",
    (event) => {
      const dialog = event.target;
      if (dialog.matches && dialog.matches("dialog.modal")) {
        event.preventDefault();
        closeModal(dialog);
      }
    },
    true,
  );

  async function sendCommand(form) {
    const box = $("message-box");
    const text = box.value.trim();
    if (!text) return;
    box.disabled = true;
    const answer = await post("command", { user: state.user, channel: state.channel, text });
    box.disabled = false;
    box.focus();
    if (answer.ok) {
      box.value = "";
      say(text.startsWith("/") ? `Sent ${text.split(" ")[0]} to Warroom.` : "Posted.");
    }
  }

  async function sendSample(button) {
    const result = $("sample-result");
    const name = `${button.closest("fieldset").querySelector("legend").textContent} ${button.dataset.sampleStatus}`;
    result.textContent = `Sending ${name}…`;
    const answer = await post("alert", { source: button.dataset.sampleSource, status: button.dataset.sampleStatus });
    if (answer.status) {
      result.textContent = `${name}: Warroom answered ${answer.status} ${answer.body || ""}`;
    } else {
      result.textContent = `${name}: ${answer.error || "failed"}`;
    }
    result.classList.toggle("error", !answer.ok);
  }

  // First paint came from the server; start from there.
  shown.channels = $("channel-list").innerHTML;
  shown.header = $("channel-header").innerHTML;
  shown.messages = $("messages").innerHTML;
  const initial = currentModal();
  if (initial) initial.showModal();
  $("messages").scrollTop = $("messages").scrollHeight;
  schedule(pollMs);
})();
