// Trading page: funds, watchlist with live quotes, search, chart, order ticket, open orders,
// positions with live P&L, fill notifications. All data through /v2 and /ws/stream.
import { api, ApiError, el, money, num } from "./api.js";

const state = {
  quotes: new Map(),       // symbol -> latest quote fields
  watchlist: null,         // {id, name, assets}
  positions: [],
  orders: [],
  chartSymbol: null,
  chartBars: [],
  ticks: {},               // symbol -> live prices seen since the chart was opened
  lastSeq: Number(sessionStorage.getItem("lastSeq") || 0),
  socket: null,
  subscribed: new Set(),
};

const $ = (id) => document.getElementById(id);
// Last trade when there is one, else the mid of the quote (a symbol may have quotes and no trades yet).
const lastOrMid = (quote) => quote.last || (quote.bid && quote.ask ? (Number(quote.bid) + Number(quote.ask)) / 2 : null);

// ---------- funds, orders, positions ----------
async function refreshAccount() {
  const account = await api("/v2/account");
  $("cash").textContent = money(account.cash);
  $("buying-power").textContent = money(account.buying_power);
  $("long-value").textContent = money(account.long_market_value);
  $("equity").textContent = money(account.equity);
}

async function refreshOrders() {
  state.orders = await api("/v2/orders?status=open&limit=100");
  renderOrders();
}

function renderOrders() {
  const rows = state.orders.map((order) => el("tr", {},
    el("td", {}, order.symbol), el("td", {}, order.side), el("td", {}, order.type),
    el("td", { class: "num" }, num(order.qty, 0)), el("td", { class: "num" }, num(order.filled_qty, 0)),
    el("td", { class: "num" }, order.limit_price ? num(order.limit_price) : "–"),
    el("td", {}, order.status),
    el("td", {}, el("button", { class: "link", onclick: () => cancelOrder(order.id) }, "Cancel"))));
  $("order-rows").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 8, class: "muted" }, "No open orders"))]));
}

async function cancelOrder(id) {
  try {
    await api(`/v2/orders/${id}`, { method: "DELETE" });
    toast("Cancel requested");
  } catch (error) { toast(error.message, "error"); }
  refreshOrders();
}

async function refreshPositions() {
  state.positions = await api("/v2/positions");
  state.positions.forEach((position) => subscribe([position.symbol]));
  renderPositions();
}

function renderPositions() {
  const rows = state.positions.map((position) => {
    const quote = state.quotes.get(position.symbol) || {};
    const last = Number(lastOrMid(quote) || position.current_price || 0);
    const qty = Number(position.qty);
    const marketValue = last * qty;
    const pnl = marketValue - Number(position.cost_basis);
    return el("tr", {},
      el("td", {}, position.symbol), el("td", { class: "num" }, num(qty, 0)),
      el("td", { class: "num" }, num(position.avg_entry_price)), el("td", { class: "num" }, num(last)),
      el("td", { class: "num" }, money(marketValue)),
      el("td", { class: `num ${pnl >= 0 ? "up" : "down"}` }, money(pnl)));
  });
  $("position-rows").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 6, class: "muted" }, "No positions"))]));
}

// ---------- watchlist ----------
async function loadWatchlist() {
  const lists = await api("/v2/watchlists");
  if (lists.length) {
    state.watchlist = await api(`/v2/watchlists/${lists[0].id}`);
  } else {
    state.watchlist = await api("/v2/watchlists", { method: "POST", body: { name: "Main", symbols: ["AAPL", "MSFT", "GOOGL", "AMZN", "NVDA"] } });
  }
  subscribe(state.watchlist.assets.map((asset) => asset.symbol));
  renderWatchlist();
}

async function addToWatchlist(symbol) {
  if (state.watchlist.assets.some((asset) => asset.symbol === symbol)) return;
  try {
    state.watchlist = await api(`/v2/watchlists/${state.watchlist.id}`, { method: "POST", body: { symbol } });
    subscribe([symbol]);
    renderWatchlist();
  } catch (error) { toast(error.message, "error"); }
}

async function removeFromWatchlist(symbol) {
  state.watchlist = await api(`/v2/watchlists/${state.watchlist.id}/${encodeURIComponent(symbol)}`, { method: "DELETE" });
  renderWatchlist();
}

function renderWatchlist() {
  const rows = state.watchlist.assets.map((asset) => {
    const quote = state.quotes.get(asset.symbol) || {};
    const change = Number(quote.change || 0);
    return el("tr", { "data-symbol": asset.symbol, class: "clickable", onclick: () => selectSymbol(asset.symbol) },
      el("td", { title: asset.name }, asset.symbol),
      el("td", { class: "num" }, num(quote.bid)), el("td", { class: "num" }, num(quote.ask)),
      el("td", { class: "num", title: quote.last ? "last trade" : "mid quote" }, num(lastOrMid(quote))),
      el("td", { class: `num ${change >= 0 ? "up" : "down"}` }, quote.change ? num(change) : "–"),
      el("td", {}, el("button", { class: "link", title: "Remove", onclick: (event) => { event.stopPropagation(); removeFromWatchlist(asset.symbol); } }, "×")));
  });
  $("watchlist-rows").replaceChildren(...rows);
}

// ---------- search (typo-tolerant, server ranked) ----------
let searchTimer = null;
let searchSeq = 0;
function setupSearch() {
  const input = $("search-input");
  const list = $("search-results");
  input.addEventListener("input", () => {
    clearTimeout(searchTimer);
    const text = input.value.trim();
    if (!text) { list.hidden = true; return; }
    searchTimer = setTimeout(async () => {
      const mySeq = ++searchSeq;
      try {
        const results = await api(`/v2/assets/search?q=${encodeURIComponent(text)}&limit=8&tradable=true`);
        if (mySeq !== searchSeq) return;  // a newer keystroke already answered
        list.replaceChildren(...results.map((asset) => el("li", { role: "option", onclick: () => pick(asset.symbol) },
          el("strong", {}, asset.symbol), " ", el("span", { class: "muted" }, `${asset.name} · ${asset.exchange}`))));
        list.hidden = results.length === 0;
        input.setAttribute("aria-expanded", String(!list.hidden));
      } catch (error) { if (!(error instanceof ApiError)) throw error; list.hidden = true; }
    }, 120);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && list.firstChild) list.firstChild.click();
    if (event.key === "Escape") list.hidden = true;
  });
  function pick(symbol) {
    input.value = "";
    list.hidden = true;
    addToWatchlist(symbol);
    selectSymbol(symbol);
  }
}

// ---------- chart ----------
async function selectSymbol(symbol) {
  state.chartSymbol = symbol;
  $("chart-symbol").textContent = symbol;
  document.querySelector("#ticket [name=symbol]").value = symbol;
  subscribe([symbol]);
  const data = await api(`/v2/stocks/bars?symbols=${encodeURIComponent(symbol)}&timeframe=1Min&limit=240`);
  state.chartBars = (data.bars && data.bars[symbol]) || [];
  drawChart();
}

function drawChart() {
  const svg = $("chart");
  const quote = state.quotes.get(state.chartSymbol) || {};
  const live = lastOrMid(quote);
  // Minute bars from the server, then the live price sampled as it ticks (until the next bar lands).
  if (live && state.chartSymbol) {
    const ticks = (state.ticks[state.chartSymbol] ||= []);
    if (ticks[ticks.length - 1] !== Number(live)) ticks.push(Number(live));
    if (ticks.length > 300) ticks.shift();
  }
  const closes = [...state.chartBars.map((bar) => Number(bar.c)), ...(state.ticks[state.chartSymbol] || [])];
  $("chart-last").textContent = live ? num(live) : "";
  if (closes.length < 2) { svg.replaceChildren(); return; }
  const min = Math.min(...closes), max = Math.max(...closes), span = max - min || 1;
  const points = closes.map((close, i) => `${(i / (closes.length - 1)) * 600},${210 - ((close - min) / span) * 200}`).join(" ");
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points);
  line.setAttribute("class", closes[closes.length - 1] >= closes[0] ? "line up" : "line down");
  svg.replaceChildren(line);
}

// ---------- order ticket ----------
function setupTicket() {
  const form = $("ticket");
  const sync = () => {
    const type = form.type.value;
    form.querySelectorAll(".limit-only").forEach((node) => { node.hidden = !type.includes("limit"); });
    form.querySelectorAll(".stop-only").forEach((node) => { node.hidden = !type.startsWith("stop"); });
    const quote = state.quotes.get(form.symbol.value.trim().toUpperCase()) || {};
    const price = Number(form.limit_price.value || (form.side.value === "buy" ? quote.ask : quote.bid) || quote.last || 0);
    const qty = Number(form.qty.value || 0);
    $("ticket-estimate").textContent = price && qty ? `Estimated ${form.side.value === "buy" ? "cost" : "proceeds"}: ${money(price * qty)}` : "";
  };
  form.addEventListener("input", sync);
  sync();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      symbol: form.symbol.value.trim().toUpperCase(), side: form.side.value, type: form.type.value,
      qty: form.qty.value, time_in_force: form.time_in_force.value,
      client_order_id: crypto.randomUUID(),
    };
    if (body.type.includes("limit")) body.limit_price = form.limit_price.value;
    if (body.type.startsWith("stop")) body.stop_price = form.stop_price.value;
    const summary = `${body.side.toUpperCase()} ${body.qty} ${body.symbol} ${body.type}${body.limit_price ? " @ " + body.limit_price : ""}`;
    if (!window.confirm(`Place order: ${summary}?`)) return;
    const message = $("ticket-message");
    try {
      const order = await api("/v2/orders", { method: "POST", body });
      message.textContent = `Order ${order.status}: ${summary}`;
      message.className = "ok";
      refreshOrders();
      refreshAccount();
    } catch (error) {
      message.textContent = error.message;
      message.className = "error";
    }
  });
}

// ---------- real-time ----------
function subscribe(symbols) {
  const fresh = symbols.filter((symbol) => !state.subscribed.has(symbol));
  fresh.forEach((symbol) => state.subscribed.add(symbol));
  if (fresh.length && state.socket && state.socket.readyState === WebSocket.OPEN) {
    state.socket.send(JSON.stringify({ action: "subscribe", quotes: fresh }));
  }
}

function connect(attempt = 0) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/stream?since=${state.lastSeq}`);
  state.socket = socket;
  socket.addEventListener("open", () => {
    $("connection").textContent = "live";
    attempt = 0;
    if (state.subscribed.size) socket.send(JSON.stringify({ action: "subscribe", quotes: [...state.subscribed] }));
  });
  socket.addEventListener("message", (event) => handleFrame(JSON.parse(event.data)));
  socket.addEventListener("close", () => {
    $("connection").textContent = "reconnecting…";
    setTimeout(() => connect(attempt + 1), Math.min(10000, 500 * 2 ** attempt));
  });
}

let renderPending = false;
function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => {
    renderPending = false;
    if (state.watchlist) renderWatchlist();
    renderPositions();
    drawChart();
  });
}

function handleFrame(frame) {
  if (frame.type === "quotes") {
    for (const quote of frame.data) {
      state.quotes.set(quote.symbol, { ...(state.quotes.get(quote.symbol) || {}), ...quote });
    }
    scheduleRender();
  } else if (frame.type === "trade_update") {
    if (frame.seq <= state.lastSeq && !frame.replay) return;
    state.lastSeq = Math.max(state.lastSeq, frame.seq);
    sessionStorage.setItem("lastSeq", String(state.lastSeq));
    const update = frame.data;
    const order = update.order || {};
    if (!frame.replay && ["fill", "partial_fill", "rejected", "canceled", "expired"].includes(update.event)) {
      const detail = update.event.endsWith("fill") ? `${num(update.qty, 0)} @ ${num(update.price)}` : "";
      toast(`${order.side || ""} ${order.symbol || ""} ${update.event.replace("_", " ")} ${detail}`, update.event === "rejected" ? "error" : "ok");
    }
    refreshOrders();
    refreshPositions();
    refreshAccount();
  } else if (frame.type === "error") {
    toast(frame.message, "error");
  }
}

function toast(text, kind = "ok") {
  const node = el("div", { class: `toast ${kind}`, role: "status" }, text);
  $("toasts").append(node);
  setTimeout(() => node.remove(), 6000);
}

async function main() {
  setupSearch();
  setupTicket();
  connect();
  await Promise.all([refreshAccount(), refreshOrders(), refreshPositions(), loadWatchlist()]);
  if (state.watchlist.assets.length) selectSymbol(state.watchlist.assets[0].symbol);
}

main().catch((error) => toast(error.message, "error"));
