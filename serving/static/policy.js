// PTB what-if page: the levers the user moved become a scenario for POST /v1/whatif, and the
// answer is drawn as inline SVG and tables. No framework, no build step, nothing from outside.
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("ptb-config").textContent);
  const base = config.baseline;
  const form = document.getElementById("levers");
  const results = document.querySelector(".results");
  const SVG = "http://www.w3.org/2000/svg";
  const MINUS = "\u2212";
  const GROUP = "\u202f"; // narrow no-break space between thousands, as Norwegian reports write
  const DEBOUNCE_MS = 200;
  const TOP_KOMMUNER = 15;
  const TOP_LISTS = 8;
  const HISTOGRAM_BINS = 121;

  // -- numbers -----------------------------------------------------------------------------------

  function grouped(value, decimals) {
    const fixed = Math.abs(value).toFixed(decimals);
    const [whole, part] = fixed.split(".");
    const withGroups = whole.replace(/\B(?=(\d{3})+(?!\d))/g, GROUP);
    return part ? `${withGroups}.${part}` : withGroups;
  }
  function number(value, decimals = 0) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    const rounded = Number(value.toFixed(decimals));
    return (rounded < 0 ? MINUS : "") + grouped(value, decimals);
  }
  function signed(value, decimals = 0) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    const rounded = Number(value.toFixed(decimals));
    const sign = rounded > 0 ? "+" : rounded < 0 ? MINUS : "±";
    return sign + grouped(value, decimals);
  }
  function pct(value) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    const decimals = Math.abs(value) < 1 ? 2 : 1;
    return `${signed(value, decimals)}${GROUP}%`;
  }
  function mnok(value) {
    return number(value / 1e6, 1);
  }
  function outcomeClass(value) {
    return value > 0 ? "gain" : value < 0 ? "loss" : "neutral";
  }

  // -- the scenario from the levers ----------------------------------------------------------------

  const $ = (id) => document.getElementById(id);
  const filled = (id) => $(id) && $(id).value.trim() !== "";
  const numberOf = (id) => Number($(id).value);
  const modeOf = (name) => form.querySelector(`input[name="${name}"]:checked`).value;
  const differs = (a, b) => Math.abs(a - b) > 1e-9;

  function scenario() {
    const body = {};
    if (differs(numberOf("dampening"), base.dampening)) body.dampening = numberOf("dampening");
    if (modeOf("centrality_mode") === "scale") {
      if (differs(numberOf("centrality_scale"), 1)) body.centrality_scale = numberOf("centrality_scale");
    } else {
      const supplement = {};
      for (const centralityClass of [5, 6]) {
        const id = `centrality_nok_${centralityClass}`;
        if (filled(id)) supplement[centralityClass] = numberOf(id);
      }
      if (Object.keys(supplement).length) body.centrality_supplement_nok = supplement;
    }
    if (differs(numberOf("education_threshold"), base.education_threshold)) {
      body.education_threshold = numberOf("education_threshold");
    }
    if (modeOf("education_mode") === "scale") {
      if (differs(numberOf("education_effect_scale"), 1)) {
        body.education_effect_scale = numberOf("education_effect_scale");
      }
    } else if (filled("education_effect_nok")) {
      body.education_effect_nok = numberOf("education_effect_nok");
    }
    if (filled("refugee_rate_nok")) body.refugee_rate_nok = numberOf("refugee_rate_nok");
    if (!$("budget_neutral").checked) body.budget_neutral = false;
    else if (filled("budget_mnok")) body.budget_nok = Math.round(numberOf("budget_mnok") * 1e6);
    if (filled("floor_persons")) body.floor_persons = numberOf("floor_persons");
    if (filled("break_point_persons")) body.break_point_persons = numberOf("break_point_persons");
    if (filled("break_point_rate_share")) {
      body.break_point_rate_share = numberOf("break_point_rate_share");
    }
    if ($("model_version") && $("model_version").value) body.model_version = $("model_version").value;
    return body;
  }

  // The scenario in the address (#{"dampening":0.5}), so a priced scenario can be shared.
  function applyScenario(body) {
    const set = (id, value) => { if ($(id) && value !== undefined) $(id).value = value; };
    const mode = (name, value) => {
      form.querySelector(`input[name="${name}"][value="${value}"]`).checked = true;
    };
    set("dampening", body.dampening);
    set("centrality_scale", body.centrality_scale);
    if (body.centrality_supplement_nok) {
      mode("centrality_mode", "nok");
      for (const [centralityClass, nok] of Object.entries(body.centrality_supplement_nok)) {
        set(`centrality_nok_${centralityClass}`, nok);
      }
    }
    set("education_threshold", body.education_threshold);
    set("education_effect_scale", body.education_effect_scale);
    if (body.education_effect_nok !== undefined) {
      mode("education_mode", "nok");
      set("education_effect_nok", body.education_effect_nok);
    }
    set("refugee_rate_nok", body.refugee_rate_nok);
    if (body.budget_neutral === false) $("budget_neutral").checked = false;
    if (body.budget_nok !== undefined) set("budget_mnok", body.budget_nok / 1e6);
    set("floor_persons", body.floor_persons);
    set("break_point_persons", body.break_point_persons);
    set("break_point_rate_share", body.break_point_rate_share);
    set("model_version", body.model_version);
  }

  function scenarioInAddress() {
    if (location.hash.length < 2) return;
    try {
      applyScenario(JSON.parse(decodeURIComponent(location.hash.slice(1))));
    } catch (error) {
      status("error", `The address holds no readable scenario: ${error.message}`);
    }
  }

  function showOutputs() {
    const shown = {
      dampening: (v) => v.toFixed(2),
      centrality_scale: (v) => `${v.toFixed(1)}`,
      education_threshold: (v) => `${Math.round(v * 100)}${GROUP}%`,
      education_effect_scale: (v) => `${v.toFixed(1)}`,
    };
    const baselines = {
      dampening: base.dampening,
      centrality_scale: 1,
      education_threshold: base.education_threshold,
      education_effect_scale: 1,
    };
    for (const [id, format] of Object.entries(shown)) {
      const out = $(`${id}-out`);
      out.textContent = format(numberOf(id));
      out.classList.toggle("changed", differs(numberOf(id), baselines[id]));
    }
    for (const name of ["centrality_mode", "education_mode"]) {
      const mode = modeOf(name);
      for (const block of form.querySelectorAll(`[data-mode-of="${name}"]`)) {
        block.hidden = block.dataset.mode !== mode;
      }
    }
    $("budget_mnok").disabled = !$("budget_neutral").checked;
  }

  // -- drawing -----------------------------------------------------------------------------------

  function el(name, attributes = {}, text) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function niceStep(span, count) {
    const raw = span / Math.max(count, 1);
    const power = 10 ** Math.floor(Math.log10(raw || 1));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
    return step || 10 * power;
  }
  function ticks(low, high, count) {
    const step = niceStep(high - low, count);
    const found = [];
    for (let t = Math.ceil(low / step - 1e-9) * step; t <= high + 1e-9; t += step) {
      found.push(Math.abs(t) < step / 1e6 ? 0 : t);
    }
    return { values: found, step };
  }
  function decimalsOf(step) {
    return step >= 1 ? 0 : Math.min(3, Math.ceil(-Math.log10(step)));
  }

  // A chart is drawn in its own pixels (viewBox = rendered width), so its 11 px labels stay
  // 11 px on a phone instead of shrinking with a 640-unit drawing scaled to fit.
  function chartWidth(svg, H) {
    const W = Math.round(Math.min(Math.max(svg.getBoundingClientRect().width || 640, 280), 960));
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    return W;
  }

  // The lists beyond the histogram's far-out fences, named instead of stretching its axis.
  function fillOutliers(result) {
    const list = $("histogram-outliers");
    const named = result.histogram_outliers || [];
    const total = result.histogram_outliers_total || 0;
    list.replaceChildren();
    for (const l of named) {
      const item = document.createElement("li");
      item.dataset.changePct = l.change_pct;
      item.className = outcomeClass(l.change_nok);
      item.textContent = `${l.list_id} · ${l.kommune_name} · ${number(l.persons)} persons · ${pct(l.change_pct)} (${signed(l.change_nok)} NOK)`;
      list.append(item);
    }
    if (total > named.length) {
      const item = document.createElement("li");
      item.className = "more";
      item.textContent = `and ${number(total - named.length)} more (see Lists as CSV)`;
      list.append(item);
    }
    list.dataset.lists = String(named.length);
    list.dataset.more = String(total - named.length);
    $("histogram-outliers-box").hidden = total === 0;
  }

  function drawHistogram(result) {
    const svg = $("histogram");
    svg.replaceChildren();
    svg.dataset.lists = String(result.lists);
    const H = 280, left = 54, right = 14, top = 14, bottom = 44;
    const W = chartWidth(svg, H);
    const bins = result.histogram;
    const low = bins[0].bin_low_pct;
    const high = bins[bins.length - 1].bin_high_pct;
    // At least five bins each way, so a narrow distribution still reads as narrow.
    const reach = Math.max(Math.abs(low), Math.abs(high), 5 * (bins[0].bin_high_pct - low));
    const x = (v) => left + ((v + reach) / (2 * reach)) * (W - left - right);
    const most = Math.max(...bins.map((b) => b.lists), 1);
    const yTicks = ticks(0, most, 4);
    const yMax = Math.max(most, yTicks.values[yTicks.values.length - 1]);
    const y = (v) => H - bottom - (v / yMax) * (H - top - bottom);
    for (const t of yTicks.values) {
      svg.append(el("line", { class: "grid", x1: left, x2: W - right, y1: y(t), y2: y(t) }));
      svg.append(el("text", { x: left - 8, y: y(t) + 4, "text-anchor": "end" }, number(t)));
    }
    for (const bin of bins) {
      const centre = (bin.bin_low_pct + bin.bin_high_pct) / 2;
      const kind = Math.abs(centre) < 1e-9 ? "neutral" : outcomeClass(centre);
      const x0 = x(bin.bin_low_pct), x1 = x(bin.bin_high_pct);
      const gap = Math.min(1.5, (x1 - x0) * 0.12);
      const rect = el("rect", {
        class: `bar ${kind}`,
        x: x0 + gap / 2,
        width: Math.max(x1 - x0 - gap, 0.5),
        y: y(bin.lists),
        height: Math.max(H - bottom - y(bin.lists), 0),
        "data-lists": bin.lists,
      });
      rect.append(
        el("title", {}, `${pct(bin.bin_low_pct)} to ${pct(bin.bin_high_pct)}: ${number(bin.lists)} lists`)
      );
      svg.append(rect);
    }
    const xTicks = ticks(-reach, reach, Math.max(3, Math.floor((W - left - right) / 70)));
    const decimals = decimalsOf(xTicks.step);
    for (const t of xTicks.values) {
      svg.append(el("line", { class: "grid", x1: x(t), x2: x(t), y1: H - bottom, y2: H - bottom + 4, stroke: "#9aa3ad" }));
      const label = t === 0 ? "0" : `${signed(t, decimals)}${GROUP}%`;
      svg.append(el("text", { x: x(t), y: H - bottom + 17, "text-anchor": "middle" }, label));
    }
    svg.append(el("line", { class: "zero", x1: left, x2: W - right, y1: H - bottom, y2: H - bottom }));
    svg.append(el("line", { class: "zero", x1: x(0), x2: x(0), y1: top, y2: H - bottom, "stroke-dasharray": "3 3" }));
    svg.append(
      el("text", { class: "axis-title", x: (left + W - right) / 2, y: H - 6, "text-anchor": "middle" },
        "change in the list's annual grant, % of the baseline")
    );
    svg.append(
      el("text", { class: "axis-title", x: 14, y: (top + H - bottom) / 2, transform: `rotate(-90 14 ${(top + H - bottom) / 2})`, "text-anchor": "middle" }, "lists")
    );
    if (result.winners === 0 && result.losers === 0) {
      svg.append(el("text", { class: "value-label", x: x(0) + 8, y: top + 14 },
        `every list within ±${result.tolerance_nok} NOK`));
    }
  }

  function drawCentrality(result) {
    const svg = $("centrality-chart");
    svg.replaceChildren();
    const H = 280, left = 62, right = 14, top = 14, bottom = 40;
    const W = chartWidth(svg, H);
    const rows = result.centrality;
    const values = rows.map((r) => r.change_per_person_nok);
    const lowest = Math.min(0, ...values), highest = Math.max(0, ...values);
    const span = Math.max(highest - lowest, 1);
    // Room for the two-line value label beyond the end of each bar.
    const room = 0.38 * span;
    const yTicks = ticks(lowest - room * (lowest < 0), highest + room * (highest > 0), 5);
    const yLow = Math.min(yTicks.values[0], lowest - room * (lowest < 0));
    const yHigh = Math.max(yTicks.values[yTicks.values.length - 1], highest + room * (highest > 0));
    const y = (v) => top + ((yHigh - v) / (yHigh - yLow || 1)) * (H - top - bottom);
    const decimals = decimalsOf(yTicks.step);
    for (const t of yTicks.values) {
      svg.append(el("line", { class: "grid", x1: left, x2: W - right, y1: y(t), y2: y(t) }));
      svg.append(el("text", { x: left - 8, y: y(t) + 4, "text-anchor": "end" }, signed(t, decimals)));
    }
    const slot = (W - left - right) / Math.max(rows.length, 1);
    rows.forEach((row, i) => {
      const value = row.change_per_person_nok;
      const cx = left + slot * (i + 0.5);
      const width = Math.min(slot * 0.56, 64);
      const y0 = y(Math.max(value, 0)), y1 = y(Math.min(value, 0));
      const rect = el("rect", {
        class: `bar ${outcomeClass(Math.abs(value) < 0.005 ? 0 : value)}`,
        x: cx - width / 2, width, y: y0, height: Math.max(y1 - y0, 0.5),
        "data-class": row.centrality,
      });
      rect.append(el("title", {}, `class ${row.centrality}: ${signed(value, 2)} NOK per person a year (${pct(row.change_pct)}), ${number(row.lists)} lists`));
      svg.append(rect);
      const above = value >= 0;
      const labelY = above ? y0 - 18 : y1 + 14;
      const unit = slot < 72 ? "" : " NOK";
      svg.append(el("text", { class: "value-label", x: cx, y: labelY, "text-anchor": "middle" }, `${signed(value, Math.abs(value) < 10 ? 1 : 0)}${unit}`));
      svg.append(el("text", { x: cx, y: labelY + 13, "text-anchor": "middle" }, pct(row.change_pct)));
      svg.append(el("text", { x: cx, y: H - bottom + 16, "text-anchor": "middle", class: "value-label" }, slot < 60 ? `${row.centrality}` : `Class ${row.centrality}`));
      svg.append(el("text", { x: cx, y: H - bottom + 30, "text-anchor": "middle" }, `${number(row.lists)} lists`));
    });
    svg.append(el("line", { class: "zero", x1: left, x2: W - right, y1: y(0), y2: y(0) }));
    svg.append(el("line", { class: "grid", x1: left, x2: W - right, y1: H - bottom, y2: H - bottom }));
    svg.append(
      el("text", { class: "axis-title", x: 14, y: (top + H - bottom) / 2, transform: `rotate(-90 14 ${(top + H - bottom) / 2})`, "text-anchor": "middle" }, "NOK per person per year")
    );
    const gaining = rows.filter((r) => r.change_nok > 0).length;
    $("centrality-legend").textContent =
      `${gaining} of ${rows.length} classes gain; bars show the class's change over its listed persons.`;
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.append(td);
    return td;
  }

  function fillKommuner(result) {
    const body = $("kommuner").querySelector("tbody");
    body.replaceChildren();
    const order = result.kommune_order;
    const largest = Math.max(...result.kommuner.map((k) => Math.abs(k[order] || 0)), 1e-9);
    for (const k of result.kommuner) {
      const row = document.createElement("tr");
      const name = cell(row, `${k.kommune_name} `);
      const code = document.createElement("span");
      code.className = "muted";
      code.textContent = k.practice_kommune;
      name.append(code);
      cell(row, k.centrality, "num");
      cell(row, number(k.lists), "num wide");
      cell(row, number(k.persons), "num wide");
      cell(row, mnok(k.baseline_nok), "num wide");
      cell(row, signed(k.change_nok), `num ${outcomeClass(k.change_nok)}`);
      cell(row, signed(k.change_per_person_nok, 1), "num wide");
      cell(row, pct(k.change_pct), `num ${outcomeClass(k.change_nok)}`);
      const barCell = cell(row, "", "wide");
      const mini = document.createElement("div");
      mini.className = "mini";
      const bar = document.createElement("span");
      const value = k[order] || 0;
      bar.className = value >= 0 ? "gain" : "loss";
      bar.style.width = `${(50 * Math.abs(value)) / largest}%`;
      mini.append(bar);
      barCell.append(mini);
      body.append(row);
    }
    if (!result.kommuner.length || (result.winners === 0 && result.losers === 0)) {
      body.replaceChildren();
      const row = document.createElement("tr");
      const td = cell(row, "No kommune changes.", "empty");
      td.colSpan = 9;
      body.append(row);
    }
  }

  function fillLists(tableId, rows) {
    const body = $(tableId).querySelector("tbody");
    body.replaceChildren();
    for (const l of rows.slice(0, TOP_LISTS)) {
      const row = document.createElement("tr");
      cell(row, l.list_id);
      cell(row, l.kommune_name);
      cell(row, number(l.persons), "num wide");
      cell(row, signed(l.change_nok), `num ${outcomeClass(l.change_nok)}`);
      cell(row, pct(l.change_pct), `num ${outcomeClass(l.change_nok)}`);
      body.append(row);
    }
    if (!rows.length) {
      const row = document.createElement("tr");
      cell(row, "None.", "empty").colSpan = 5;
      body.append(row);
    }
  }

  // One row per quantile (three columns), so the table fits a phone as well as a desktop.
  function fillQuantiles(result) {
    const table = $("quantiles");
    const head = document.createElement("tr");
    for (const [text, className] of [["Quantile", ""], ["Change, %", "num"], ["Change, NOK a year", "num"]]) {
      const th = document.createElement("th");
      th.textContent = text;
      if (className) th.className = className;
      head.append(th);
    }
    const rows = result.distribution.map((q) => {
      const row = document.createElement("tr");
      cell(row, q.quantile === 0 ? "min" : q.quantile === 1 ? "max" : `${Math.round(q.quantile * 100)}${GROUP}%`);
      cell(row, pct(q.change_pct), `num ${outcomeClass(q.change_nok)}`);
      cell(row, signed(q.change_nok), "num");
      return row;
    });
    table.querySelector("thead").replaceChildren(head);
    table.querySelector("tbody").replaceChildren(...rows);
  }

  let shown = null;
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (reform) drawReform();
      if (!shown) return;
      drawHistogram(shown);
      drawCentrality(shown);
    }, 120);
  });

  function show(result, elapsedMs) {
    shown = result;
    const moved = result.scenario_total_nok - result.baseline_total_nok;
    $("baseline-total").textContent = mnok(result.baseline_total_nok);
    $("scenario-total").textContent = mnok(result.scenario_total_nok);
    $("total-change").textContent =
      Math.abs(moved) < 1 ? "same total" : `${signed(moved / 1e6, 1)} million NOK a year`;
    $("winners").textContent = number(result.winners);
    $("losers").textContent = number(result.losers);
    $("unchanged").textContent = number(result.unchanged);
    const share = (n) => `${((100 * n) / Math.max(result.lists, 1)).toFixed(1)}${GROUP}% of ${number(result.lists)} lists`;
    $("winners-sub").textContent = share(result.winners);
    $("losers-sub").textContent = share(result.losers);
    $("unchanged-sub").textContent = `within ±${result.tolerance_nok} NOK a year`;
    $("rate").textContent = number(result.scenario_rate_nok, 2);
    $("rate-sub").textContent = `NOK per weight unit · baseline ${number(result.baseline_rate_nok, 2)}`;
    drawHistogram(result);
    fillOutliers(result);
    drawCentrality(result);
    fillKommuner(result);
    fillLists("gains", result.largest_gains);
    fillLists("losses", result.largest_losses);
    fillQuantiles(result);
    const models =
      result.scenario_model.model_version === result.baseline.model_version
        ? `version ${result.baseline.model_version}`
        : `version ${result.scenario_model.model_version} (${result.scenario_model.model_name}) against version ${result.baseline.model_version}`;
    status("ok", `Priced ${number(result.persons)} persons on ${number(result.lists)} lists in ${number(elapsedMs)} ms · ${models}`);
  }

  function status(state, text) {
    const node = $("status");
    node.dataset.state = state;
    node.textContent = text;
  }

  // -- the analyst's API key ---------------------------------------------------------------------
  // With keys on, the page asks for a policy key and keeps it in sessionStorage: this tab only,
  // gone when it closes, never in the address, a cookie or the scenario link.

  const KEY_STORE = "ptb.apiKey";
  const keyForm = $("api-key-form");

  function storedKey() {
    try {
      return sessionStorage.getItem(KEY_STORE) || "";
    } catch (error) {
      return "";
    }
  }
  function withKey(headers) {
    const key = storedKey();
    return key ? { ...headers, Authorization: `Bearer ${key}` } : headers;
  }
  function showKeyState() {
    if (!$("key-state")) return;
    const key = storedKey();
    $("key-state").textContent = key ? `Key ${key.split(".")[1] || ""} in use (this tab only)` : "No API key given";
    $("forget-key").hidden = !key;
  }
  function askForKey(message) {
    if (!keyForm) return;
    keyForm.hidden = false;
    $("api-key-message").textContent = message;
    $("api-key").focus();
  }
  function needsKey() {
    if (!config.keys_required || storedKey()) return false;
    askForKey("This service needs an API key with role policy to price scenarios.");
    status("error", "Give an API key with role policy to price scenarios.");
    return true;
  }
  function refusedKey(response, answer) {
    if (![401, 403, 429].includes(response.status)) return;
    if (response.status === 401) sessionStorage.removeItem(KEY_STORE);
    showKeyState();
    askForKey(answer.message || `the service answered ${response.status}`);
  }
  if (keyForm) {
    keyForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("api-key").value.trim();
      $("api-key").value = "";
      if (!key) return;
      sessionStorage.setItem(KEY_STORE, key);
      keyForm.hidden = true;
      showKeyState();
      price();
    });
    $("forget-key").addEventListener("click", () => {
      sessionStorage.removeItem(KEY_STORE);
      showKeyState();
      needsKey();
    });
  }

  // -- requests ----------------------------------------------------------------------------------

  let pending = null;
  let timer = null;
  let sequence = 0;

  function markInvalid(field) {
    for (const node of form.querySelectorAll(".invalid")) node.classList.remove("invalid");
    if (!field) return;
    const name = field.split(/[.[]/)[0];
    for (const input of form.querySelectorAll(`[data-field="${name}"]`)) {
      (input.closest(".unit-input") || input).classList.add("invalid");
    }
  }

  async function price() {
    if (needsKey()) return;
    const body = scenario();
    $("scenario-json").textContent = JSON.stringify(body, null, 2);
    const order = form.ownerDocument.querySelector('input[name="kommune_order"]:checked').value;
    const query = new URLSearchParams({
      kommuner: TOP_KOMMUNER,
      kommune_order: order,
      top: TOP_LISTS,
      bins: HISTOGRAM_BINS,
    });
    if (pending) pending.abort();
    pending = new AbortController();
    const mine = ++sequence;
    status("busy", "Pricing…");
    const started = performance.now();
    try {
      const response = await fetch(`${config.whatif_url}?${query}`, {
        method: "POST",
        headers: withKey({ "Content-Type": "application/json", Accept: "application/json" }),
        body: JSON.stringify(body),
        signal: pending.signal,
      });
      const answer = await response.json();
      if (mine !== sequence) return;
      if (!response.ok) {
        refusedKey(response, answer);
        markInvalid(answer.field);
        results.classList.add("stale");
        status("error", answer.message || `the service answered ${response.status}`);
        return;
      }
      markInvalid(null);
      results.classList.remove("stale");
      show(answer, performance.now() - started);
      const address = Object.keys(body).length ? `#${encodeURIComponent(JSON.stringify(body))}` : " ";
      history.replaceState(null, "", address === " " ? location.pathname + location.search : address);
      document.body.dataset.priced = String(mine);
      document.body.dataset.scenario = JSON.stringify(body);
    } catch (error) {
      if (error.name !== "AbortError") status("error", `No answer from the service: ${error.message}`);
    }
  }

  function schedule() {
    showOutputs();
    clearTimeout(timer);
    timer = setTimeout(price, DEBOUNCE_MS);
  }

  async function download() {
    if (needsKey()) return;
    const response = await fetch(config.lists_csv_url, {
      method: "POST",
      headers: withKey({ "Content-Type": "application/json" }),
      body: JSON.stringify(scenario()),
    });
    if (!response.ok) {
      const answer = await response.json();
      refusedKey(response, answer);
      status("error", answer.message || `the service answered ${response.status}`);
      return;
    }
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = "whatif_lists.csv";
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  // -- the reform step by step (GET /v1/whatif/reform) --------------------------------------------

  let reform = null;

  // Words in lines of at most ``width`` characters, so a label fits the slot it sits under.
  function wrapWords(text, width) {
    const lines = [];
    for (const word of text.split(" ")) {
      const last = lines[lines.length - 1];
      if (last !== undefined && (last + " " + word).length <= width) lines[lines.length - 1] = `${last} ${word}`;
      else lines.push(word);
    }
    return lines;
  }

  function drawReform() {
    const svg = $("reform-chart");
    svg.replaceChildren();
    const H = 300, left = 62, right = 14, top = 22, bottom = 64;
    const W = chartWidth(svg, H);
    const steps = reform.steps;
    const highest = Math.max(0, ...steps.map((s) => s.gains_nok));
    const lowest = Math.min(0, ...steps.map((s) => s.losses_nok));
    const yTicks = ticks(lowest / 1e6, highest / 1e6, 5);
    const yLow = Math.min(yTicks.values[0], lowest / 1e6);
    const yHigh = Math.max(yTicks.values[yTicks.values.length - 1], highest / 1e6);
    const y = (v) => top + ((yHigh - v / 1e6) / (yHigh - yLow || 1)) * (H - top - bottom);
    const decimals = decimalsOf(yTicks.step);
    for (const t of yTicks.values) {
      svg.append(el("line", { class: "grid", x1: left, x2: W - right, y1: y(t * 1e6), y2: y(t * 1e6) }));
      svg.append(el("text", { x: left - 8, y: y(t * 1e6) + 4, "text-anchor": "end" }, signed(t, decimals)));
    }
    const slot = (W - left - right) / Math.max(steps.length, 1);
    steps.forEach((step, i) => {
      const cx = left + slot * (i + 0.5);
      const width = Math.min(slot * 0.5, 56);
      for (const [value, kind] of [[step.gains_nok, "gain"], [step.losses_nok, "loss"]]) {
        const y0 = y(Math.max(value, 0)), y1 = y(Math.min(value, 0));
        const rect = el("rect", { class: `bar ${kind} step-bar`, x: cx - width / 2, width, y: y0, height: Math.max(y1 - y0, 0.5), "data-step": step.step });
        rect.append(el("title", {}, `${step.label}: ${signed(value)} NOK, ${kind === "gain" ? step.gaining_lists : step.losing_lists} lists`));
        svg.append(rect);
      }
      const net = el("path", { d: `M ${cx} ${y(step.moved_nok) - 5} l 5 5 l -5 5 l -5 -5 z`, fill: "#1c2430", "data-step": step.step });
      svg.append(net);
      svg.append(el("text", { x: cx, y: top - 8, "text-anchor": "middle" }, `${step.gaining_lists}↑ ${step.losing_lists}↓`));
      // A narrow slot shows the step's number only; the key under the chart names it.
      const text = slot < 100 ? `${i + 1}` : `${i + 1}. ${step.label}`;
      wrapWords(text, Math.max(6, Math.floor(slot / 6.4))).slice(0, 4).forEach((line, j) => {
        svg.append(el("text", { x: cx, y: H - bottom + 16 + 13 * j, "text-anchor": "middle", class: j ? "" : "value-label" }, line));
      });
    });
    svg.append(el("line", { class: "zero", x1: left, x2: W - right, y1: y(0), y2: y(0) }));
    svg.append(el("text", { class: "axis-title", x: 14, y: (top + H - bottom) / 2, transform: `rotate(-90 14 ${(top + H - bottom) / 2})`, "text-anchor": "middle" }, "million NOK a year"));
  }

  function fillReform() {
    const group = document.querySelector('input[name="reform_group"]:checked').value;
    const table = $("reform-table");
    const steps = reform.steps;
    const head = document.createElement("tr");
    const headings = [[group === "kommuner" ? "Kommune" : group === "centrality" ? "Class" : group === "size_band" ? "Kommune size" : "Form of practice", ""], ["Lists", "num wide"], ["Before, MNOK", "num wide"]];
    steps.forEach((step, i) => headings.push([`${i + 1}. ${step.label}, NOK`, "num"]));
    headings.push(["Change, NOK", "num"]);
    for (const [text, className] of headings) {
      const th = document.createElement("th");
      th.textContent = text;
      if (className) th.className = className;
      head.append(th);
    }
    let rows = reform[group];
    if (group === "kommuner") {
      rows = [...rows].sort((a, b) => Math.abs(b.change_nok) - Math.abs(a.change_nok)).slice(0, TOP_KOMMUNER);
    }
    const body = rows.map((r) => {
      const row = document.createElement("tr");
      row.dataset.change = r.change_nok;
      row.dataset.steps = JSON.stringify(steps.map((s) => r.steps_nok[s.step]));
      const label = group === "kommuner" ? `${r.name} ${r.key}` : group === "centrality" ? `class ${r.key}` : r.key.replace("_", "-");
      const cells = [
        cell(row, label, "group"),
        cell(row, number(r.lists), "num wide"),
        cell(row, mnok(r.before_nok), "num wide"),
      ];
      for (const step of steps) {
        const value = r.steps_nok[step.step];
        cells.push(cell(row, signed(value), `num ${outcomeClass(Math.abs(value) < 0.5 ? 0 : value)}`));
      }
      cells.push(cell(row, signed(r.change_nok), `num ${outcomeClass(r.change_nok)}`));
      // On a phone a row becomes a card of label: value lines, labelled from the header.
      cells.forEach((td, k) => { td.dataset.label = headings[k][0]; });
      return row;
    });
    table.querySelector("thead").replaceChildren(head);
    table.querySelector("tbody").replaceChildren(...body);
  }

  async function loadReform() {
    const note = $("reform-status");
    if (!config.reform_steps) {
      note.textContent = "The serving model carries no reform steps (a model_2026 version trained since they ship does).";
      note.dataset.state = "none";
      return;
    }
    try {
      const response = await fetch(`${config.reform_url}?lists=false`, { headers: { Accept: "application/json" } });
      const answer = await response.json();
      if (!response.ok) {
        note.textContent = answer.message || `the service answered ${response.status}`;
        note.dataset.state = "error";
        return;
      }
      reform = answer;
      $("reform-key").replaceChildren(
        ...answer.steps.map((step) => {
          const item = document.createElement("li");
          item.textContent = step.label;
          return item;
        })
      );
      note.textContent = `${number(answer.lists)} lists, ${number(answer.persons)} persons: ${mnok(answer.before_total_nok)} MNOK under model 0, net change ${signed(answer.change_total_nok)} NOK a year (grunntilskudd's agreement months counted to ${answer.scheme_date}).`;
      note.dataset.state = "ok";
      drawReform();
      fillReform();
    } catch (error) {
      note.textContent = `No answer from the service: ${error.message}`;
      note.dataset.state = "error";
    }
  }

  function reset() {
    // A control named "reset" would shadow form.reset; the prototype's method is never shadowed.
    HTMLFormElement.prototype.reset.call(form);
    schedule();
  }

  if (!config.snapshot) {
    status("error", "No registry snapshot: start the service with --data to price scenarios.");
    return;
  }
  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  form.addEventListener("submit", (event) => event.preventDefault());
  for (const radio of document.querySelectorAll('input[name="kommune_order"]')) {
    radio.addEventListener("change", schedule);
  }
  $("reset-levers").addEventListener("click", reset);
  $("download-lists").addEventListener("click", download);
  for (const radio of document.querySelectorAll('input[name="reform_group"]')) {
    radio.addEventListener("change", () => reform && fillReform());
  }
  loadReform();
  scenarioInAddress();
  showOutputs();
  showKeyState();
  price();
})();
