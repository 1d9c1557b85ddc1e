// The operations console: live alerts (a resumable SSE stream read with fetch, so the token can go in a
// header), account and customer look-ups through the routed views, and the pipeline's state from
// GET /status. Plain DOM, no framework, no build step. Text reaches the page only as text (never HTML).
"use strict";

(() => {
  const TOKEN_KEY = "ledgerstream.web-token";
  const KEEP_ALERTS = 500;           // newest alerts kept in the page
  const PIPELINE_EVERY_MS = 3000;    // how often the pipeline panel refreshes
  const $ = (id) => document.getElementById(id);

  let token = sessionStorage.getItem(TOKEN_KEY) || "";
  let started = false;

  // ------------------------------------------------------------------ requests

  function headers(extra) {
    const h = Object.assign({ Accept: "application/json" }, extra || {});
    if (token) h.Authorization = "Bearer " + token;
    return h;
  }

  async function api(path) {
    const response = await fetch(path, { headers: headers(), cache: "no-store" });
    let body = null;
    try { body = await response.json(); } catch (_) { /* not JSON: the status says enough */ }
    if (response.status === 401) tokenRejected();
    return { status: response.status, body };
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "className") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const errorOf = (answer) => (answer.body && answer.body.error) || `HTTP ${answer.status}`;
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ------------------------------------------------------------------ the token

  function showTokenForm(message) {
    $("console").hidden = true;
    $("token-form").hidden = false;
    $("token-error").textContent = message || "";
    $("token").focus();
  }

  function forgetToken(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    token = "";
    stopFeed();
    showTokenForm(message);
  }

  const tokenRejected = () => forgetToken(token ? "That token was not accepted." : "");

  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    token = $("token").value.trim();
    $("token").value = "";
    sessionStorage.setItem(TOKEN_KEY, token);
    openConsole();
  });

  $("forget-token").addEventListener("click", () => forgetToken(""));

  async function openConsole() {
    let answer;
    try {
      answer = await api("/status");
    } catch (_) {
      $("worker").textContent = "The worker does not answer; retrying…";
      setTimeout(openConsole, 3000);
      return;
    }
    if (answer.status === 401) return; // tokenRejected() showed the form
    $("token-form").hidden = true;
    $("console").hidden = false;
    $("forget-token").hidden = !token;
    if (!started) {
      started = true;
      renderPipeline(answer);
      startFeed();
      pollPipeline();
    } else {
      startFeed();
    }
  }

  // ------------------------------------------------------------------ live alerts

  const alerts = [];        // newest first
  let pausedBuffer = null;  // alerts that came while paused (null: not paused)
  let lastEventId = null;   // the feed position after the last alert seen
  let feedAbort = null;
  let feedEnded = null;     // why the worker ended the stream (event: end), if it said

  function setFeedState(text, kind) {
    const badge = $("feed-state");
    badge.hidden = false;
    badge.textContent = text;
    badge.className = "badge " + (kind || "");
  }

  function stopFeed() {
    if (feedAbort) feedAbort.abort();
    feedAbort = null;
  }

  function startFeed() {
    if (feedAbort) return;
    const control = new AbortController();
    feedAbort = control;
    follow(control.signal);
  }

  async function follow(signal) {
    let wait = 500;
    while (!signal.aborted) {
      try {
        const extra = { Accept: "text/event-stream" };
        // Resume exactly after the last alert seen: the id is a position the worker seeks to.
        if (lastEventId) extra["Last-Event-ID"] = lastEventId;
        const response = await fetch("/live/alerts", { headers: headers(extra), cache: "no-store", signal });
        if (response.status === 401) { tokenRejected(); return; }
        if (!response.ok) {
          let why = `HTTP ${response.status}`;
          try { why = (await response.json()).error || why; } catch (_) { /* keep the status */ }
          // A busy or broker-less worker says when to come back (503 with Retry-After, in seconds).
          const after = Number(response.headers.get("Retry-After"));
          if (after > 0) wait = Math.max(wait, after * 1000);
          throw new Error(why);
        }
        if (!lastEventId) lastEventId = response.headers.get("X-Feed-Position");
        setFeedState("live", "live");
        wait = 500;
        feedEnded = null;
        await readEvents(response.body, onFeedEvent);
        if (!signal.aborted) setFeedState(`stream ended${feedEnded ? ` (${feedEnded})` : ""}; reconnecting`, "down");
      } catch (error) {
        if (signal.aborted) return;
        setFeedState("reconnecting: " + (error.message || "no answer"), "down");
      }
      await sleep(wait);
      wait = Math.min(wait * 2, 10000);
    }
  }

  // Server-Sent Events from a fetch body: fields until a blank line, then one event.
  async function readEvents(body, dispatch) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let event = { type: "message", data: [], id: null };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let newline;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
        if (line === "") {
          if (event.data.length) dispatch(event.type, event.data.join("\n"), event.id);
          event = { type: "message", data: [], id: null };
        } else if (!line.startsWith(":")) {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event.type = text;
          else if (field === "data") event.data.push(text);
          else if (field === "id") event.id = text;
        }
      }
    }
  }

  function onFeedEvent(type, data, id) {
    if (type === "alert") {
      const alert = JSON.parse(data);
      if (id) lastEventId = id;
      if (pausedBuffer) pausedBuffer.push(alert);
      else addAlert(alert);
      updatePauseLabel();
    } else if (type === "dropped") {
      const { dropped } = JSON.parse(data);
      const notice = $("feed-notice");
      notice.hidden = false;
      notice.textContent = `${dropped} alert(s) could not be delivered to this page (it fell behind, or was away too long). ` +
        "Look up the accounts concerned to see every alert.";
    } else if (type === "end") {
      feedEnded = JSON.parse(data).reason;  // the worker ends the stream; the reconnect resumes from lastEventId
    }
  }

  function addAlert(alert) {
    // At-least-once: after a worker's crash an alert can be sent again, with the same id. The page
    // lists each alert once.
    if (alerts.some((shown) => shown.alert_id === alert.alert_id)) return;
    alerts.unshift(alert);
    if (alerts.length > KEEP_ALERTS) alerts.length = KEEP_ALERTS;
    if (matchesFilter(alert)) {
      const list = $("alert-list");
      const item = alertItem(alert);
      item.classList.add("new");
      list.prepend(item);
      while (list.children.length > KEEP_ALERTS) list.lastElementChild.remove();
    }
    updateAlertCount();
    keepOneTabStop();
  }

  function matchesFilter(alert) {
    const rule = $("rule-filter").value;
    const account = $("account-filter").value.trim();
    return (!rule || alert.rule === rule) && (!account || String(alert.account_id) === account);
  }

  function alertItem(alert) {
    const when = (iso) => new Date(iso).toLocaleTimeString();
    return el("li", { "data-alert-id": alert.alert_id, "data-account": alert.account_id },
      el("span", { className: "total" }, alert.total),
      el("span", { className: "rule" }, alert.rule), " on account ",
      el("button", { type: "button", className: "account-link", title: "Look up this account",
                     onclick: () => lookUpAccount(alert.account_id) }, alert.account_id),
      el("div", { className: "meta" },
        (alert.severity ? `${alert.severity} severity, rule version ${alert.rule_version}; ` : "") +
        `${alert.count} withdrawals, window ${when(alert.window_start)}–${when(alert.window_end)}, ` +
        `transactions ${alert.txn_ids.join(", ")}; detected ${when(alert.detected_at)}`));
  }

  function renderAlerts() {
    $("alert-list").replaceChildren(...alerts.filter(matchesFilter).map(alertItem));
    updateAlertCount();
    keepOneTabStop();
  }

  // The alert list is one stop in the tab order however many alerts it shows (a roving
  // tabindex, the WAI-ARIA pattern for composite widgets): Tab passes it in one step and the
  // arrow keys, Home and End move between its alerts.
  function alertButtons() {
    return [...$("alert-list").querySelectorAll("button.account-link")];
  }

  function keepOneTabStop() {
    const buttons = alertButtons();
    const current = buttons.find((b) => b === document.activeElement);
    buttons.forEach((b) => { b.tabIndex = -1; });
    if (buttons.length) (current || buttons[0]).tabIndex = 0;
  }

  $("alert-list").addEventListener("keydown", (event) => {
    const buttons = alertButtons();
    const at = buttons.indexOf(document.activeElement);
    if (at < 0) return;
    const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: buttons.length - 1 }[event.key];
    if (to === undefined || to < 0 || to >= buttons.length) return;
    event.preventDefault();
    buttons[at].tabIndex = -1;
    buttons[to].tabIndex = 0;
    buttons[to].focus();
  });

  function updateAlertCount() {
    const shown = $("alert-list").children.length;
    $("alert-count").textContent = alerts.length ? `(${shown} shown of ${alerts.length})` : "";
    $("no-alerts").hidden = alerts.length > 0;
  }

  function updatePauseLabel() {
    const button = $("pause");
    button.setAttribute("aria-pressed", pausedBuffer ? "true" : "false");
    button.textContent = pausedBuffer ? `Resume (${pausedBuffer.length} waiting)` : "Pause";
  }

  $("pause").addEventListener("click", () => {
    if (pausedBuffer) {
      const waiting = pausedBuffer;
      pausedBuffer = null;
      waiting.forEach(addAlert);
    } else {
      pausedBuffer = [];
    }
    updatePauseLabel();
  });
  $("rule-filter").addEventListener("change", renderAlerts);
  $("account-filter").addEventListener("input", renderAlerts);

  // ------------------------------------------------------------------ accounts and customers

  function facts(pairs) {
    return el("dl", { className: "facts" },
      pairs.map(([name, value, field]) => [el("dt", {}, name), el("dd", { "data-field": field }, value ?? "–")]));
  }

  function turnoverText(t) {
    return t && t.status === 200
      ? `deposits ${t.body.deposits}, withdrawals ${t.body.withdrawals} (${t.body.count} postings)`
      : `not available (${t ? errorOf(t) : "no answer"})`;
  }

  async function lookUpAccount(id) {
    $("account-id").value = id;
    const out = $("account-result");
    const account = String(id).trim();
    if (!/^\d+$/.test(account)) { out.replaceChildren(el("p", { className: "error" }, "An account id is a number.")); return; }
    out.replaceChildren(el("p", { className: "muted" }, "Looking up…"));
    const day = $("turnover-day").value;
    const base = `/accounts/${account}`;
    const [balance, today, chosen, history] = await Promise.all([
      api(base), api(`${base}/turnover`), day ? api(`${base}/turnover?day=${encodeURIComponent(day)}`) : null,
      api(`/alerts/${account}`)]);
    if (balance.status !== 200) { out.replaceChildren(el("p", { className: "error" }, errorOf(balance))); return; }
    const a = balance.body;
    const past = history.status === 200 ? history.body.alerts.slice().reverse() : [];
    out.replaceChildren(
      el("h3", {}, `Account ${a.account_id}`),
      facts([["Balance", `${a.balance} ${a.currency}`, "balance"], ["Status", a.status, "status"],
             ["Customer", a.customer_id, "customer"], ["Updated", a.updated_at, "updated"],
             ["Today", turnoverText(today), "today"]].concat(day ? [[day, turnoverText(chosen), "day"]] : [])),
      el("h3", {}, `Alerts (${past.length})`),
      past.length ? el("ol", { className: "alerts" }, past.map(alertItem)) : el("p", { className: "muted" }, "None."));
  }

  async function lookUpCustomer(id) {
    const out = $("customer-result");
    if (!/^\d+$/.test(id)) { out.replaceChildren(el("p", { className: "error" }, "A customer id is a number.")); return; }
    out.replaceChildren(el("p", { className: "muted" }, "Looking up…"));
    const answer = await api(`/customers/${id}`);
    if (answer.status !== 200) { out.replaceChildren(el("p", { className: "error" }, errorOf(answer))); return; }
    const c = answer.body;
    const rows = el("tbody", {});
    const addAccounts = (body) => {
      // A list of accounts, or (older answers) an object keyed by account id.
      const list = Array.isArray(body.accounts) ? body.accounts
        : Object.entries(body.accounts || {}).map(([accountId, a]) => Object.assign({ account_id: accountId }, a));
      for (const a of list) {
        rows.append(el("tr", {},
          el("td", {}, el("button", { type: "button", onclick: () => lookUpAccount(a.account_id) }, a.account_id)),
          el("td", { className: "num" }, a.balance), el("td", {}, a.currency), el("td", {}, a.status)));
      }
    };
    addAccounts(c);
    const totals = Object.entries(c.total_balance || {}).map(([currency, sum]) => `${sum} ${currency}`).join(", ");
    const more = el("div", {});
    const offerMore = (body) => {
      // Paged answers name the next page; follow it on request.
      const cursor = body.next_cursor ?? body.cursor ?? null;
      more.replaceChildren(cursor === null || cursor === undefined ? "" : el("button", { type: "button", onclick: async () => {
        const page = await api(`/customers/${id}?cursor=${encodeURIComponent(cursor)}`);
        if (page.status === 200) { addAccounts(page.body); offerMore(page.body); }
        else more.replaceChildren(el("p", { className: "error" }, errorOf(page)));
      } }, "More accounts"));
    };
    offerMore(c);
    out.replaceChildren(
      el("h3", {}, `Customer ${c.customer_id}: ${c.name ?? ""}`),
      facts([["Email", c.email, "email"], ["Total", totals, "total"], ["Last activity", c.last_activity, "activity"]]),
      el("div", { className: "table-wrap" }, el("table", {},
        el("thead", {}, el("tr", {}, el("th", {}, "Account"), el("th", { className: "num" }, "Balance"),
          el("th", {}, "Currency"), el("th", {}, "Status"))), rows)),
      more);
  }

  $("account-form").addEventListener("submit", (event) => { event.preventDefault(); lookUpAccount($("account-id").value); });
  $("customer-form").addEventListener("submit", (event) => { event.preventDefault(); lookUpCustomer($("customer-id").value.trim()); });

  // ------------------------------------------------------------------ the pipeline

  let previous = null; // the last /status, for throughput (counter differences over time)

  async function pollPipeline() {
    for (;;) {
      await sleep(PIPELINE_EVERY_MS);
      if ($("console").hidden) continue;
      try { renderPipeline(await api("/status")); } catch (_) { $("pipeline-age").textContent = "(worker not answering)"; }
    }
  }

  const seconds = (s) => (s === null || s === undefined ? "–" : s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(2)} s`);
  const table = (head, rows) => el("div", { className: "table-wrap" }, el("table", {},
    el("thead", {}, el("tr", {}, head.map(([text, num]) => el("th", { className: num ? "num" : null }, text)))),
    el("tbody", {}, rows)));
  const cell = (value, metric) => el("td", { className: "num", "data-metric": metric }, value ?? "–");

  function renderPipeline(answer) {
    if (!answer || answer.status !== 200) {
      $("pipeline-age").textContent = answer ? `(${errorOf(answer)})` : "";
      return;
    }
    const s = answer.body;
    $("worker").textContent = `${s.worker} · ${s.app_id}`;
    $("pipeline-age").textContent = `(updated ${new Date(s.at * 1000).toLocaleTimeString()})`;
    const parts = [];

    parts.push(facts([
      ["Worker", s.ready ? "ready" : "not ready: " + s.reasons.join("; "), "ready"],
      ["Broker", s.broker.reachable ? "reachable" : "unreachable: " + (s.broker.error || ""), "broker"],
      ["Live listeners", s.live ? `${s.live.listeners} (alerts dropped: ${s.live.dropped})` : "–", "listeners"],
    ]));
    if (!s.metrics_enabled) parts.push(el("p", { className: "warning" }, "Metrics are off on this worker (METRICS_ENABLED=false)."));

    const owners = Object.entries(s.owners || {});
    parts.push(el("h3", {}, "Partition owners"), owners.length
      ? table([["Worker"], ["Partitions"]], owners.map(([url, ps]) => el("tr", {}, el("td", {}, url), el("td", {}, ps.join(", ")))))
      : el("p", { className: "muted" }, "Not assigned yet."));

    if (s.agents) {
      const dt = previous ? s.at - previous.at : 0;
      const before = new Map((previous && previous.agents || []).map((r) => [`${r.agent}|${r.partition}`, r.records]));
      const byAgent = new Map();
      for (const r of s.agents) {
        const row = byAgent.get(r.agent) || { agent: r.agent, topic: r.topic, records: 0, rate: dt > 0 ? 0 : null, dead: 0 };
        row.records += r.records;
        row.dead += r.dead_letters;
        const was = before.get(`${r.agent}|${r.partition}`);
        if (row.rate !== null) row.rate += Math.max(0, r.records - (was ?? r.records)) / dt;
        byAgent.set(r.agent, row);
      }
      parts.push(el("h3", {}, "Agents"), table([["Agent"], ["Topic"], ["Records", 1], ["Per second", 1], ["Dead letters", 1]],
        [...byAgent.values()].map((r) => el("tr", {}, el("td", {}, r.agent), el("td", {}, r.topic), cell(r.records, "records"),
          cell(r.rate === null ? "…" : r.rate.toFixed(1), "throughput"), cell(r.dead, "agent-dead-letters")))));

      // One row per topic, one lag cell per partition (the cell's title has the offsets behind it).
      const now = s.at;
      const topics = new Map();
      for (const p of s.partitions) {
        if (p.topic.endsWith("__assignor-__leader")) continue; // Faust's own bookkeeping topic
        if (!topics.has(p.topic)) topics.set(p.topic, []);
        topics.get(p.topic).push(p);
      }
      const width = Math.max(0, ...[...topics.values()].map((ps) => Math.max(...ps.map((p) => p.partition + 1))));
      const columns = [...Array(width).keys()];
      parts.push(el("h3", {}, "Lag per partition (records behind)"), table(
        [["Topic"], ...columns.map((n) => [`p${n}`, 1]), ["Last commit", 1]],
        [...topics].map(([topic, ps]) => {
          const at = new Map(ps.map((p) => [p.partition, p]));
          const commits = ps.map((p) => p.last_commit).filter(Boolean);
          return el("tr", { "data-topic": topic }, el("td", {}, topic), columns.map((n) => {
            const p = at.get(n);
            const td = cell(p ? p.lag : null, "lag");
            if (p) td.title = `position ${p.position ?? "–"}, end ${p.end ?? "–"}, committed ${p.committed ?? "–"}`;
            return td;
          }), cell(commits.length ? `${seconds(now - Math.max(...commits))} ago` : null));
        })));

      const fresh = Object.entries(s.freshness || {});
      parts.push(el("h3", {}, "Freshness: source commit to view (since start)"), fresh.length
        ? table([["Source table"], ["Changes", 1], ["p50", 1], ["p99", 1]], fresh.map(([name, f]) => el("tr", {},
            el("td", {}, name), cell(f.count), cell(seconds(f.p50_seconds), "freshness-p50"), cell(seconds(f.p99_seconds), "freshness-p99"))))
        : el("p", { className: "muted" }, "No changes applied yet."));

      const dead = Object.entries(s.dead_letters || {});
      parts.push(el("h3", {}, "Dead letters"), dead.length
        ? table([["Source topic"], ["Count", 1], ["Latest reasons"]], dead.map(([topic, count]) => el("tr", {},
            el("td", {}, topic + ".dlq"), cell(count, "dead-letters"),
            el("td", {}, ((s.latest_dead_letters || {})[topic] || []).map((d) =>
              el("div", {}, `p${d.partition}@${d.offset ?? "?"} (${d.agent}): ${d.reason}`))))))
        : el("p", { className: "muted" }, "None."));
    }

    const connect = s.connect || {};
    parts.push(el("h3", {}, "Kafka Connect"), connect.error
      ? el("p", { className: "error", "data-metric": "connect-error" }, connect.error)
      : table([["Connector"], ["State"], ["Tasks"]], (connect.connectors || []).map((c) => el("tr", {},
          el("td", {}, c.name), el("td", { className: "state-" + c.state, "data-metric": "connector-state" }, c.state),
          el("td", {}, c.tasks.map((t) => el("div", { className: "state-" + t.state },
            `#${t.id} ${t.state}${t.error ? ": " + t.error : ""}`)))))));

    $("pipeline-body").replaceChildren(...parts);
    previous = s;
  }

  openConsole();
})();
