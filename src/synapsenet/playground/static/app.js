// synapsenet playground: draws what the server streams, and sends what the controls say.
// No framework, no build step. The server is the one source of truth for the configuration:
// a control sends a change, the server checks it and answers with the configuration it
// accepted (or an error the page shows), and only then do the controls and the URL change.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  const LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
  const L2S = [0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1];
  const SPEEDS = [1, 3, 10, 30, 100, 300, 1000];
  const LEVELS = [0, 2, 4, 8, 16, 32, 64, 128, 256]; // 0: continuous
  const LABELS = {
    dataset: {circle: "Circle", xor: "XOR", gaussians: "Two Gaussians", spiral: "Spiral",
      moons: "Moons"},
    activation: {tanh: "tanh", sigmoid: "sigmoid", relu: "ReLU", leaky_relu: "leaky ReLU",
      elu: "ELU", softplus: "softplus", identity: "linear"},
    loss: {squared_error: "½Σ(z−d)²", cross_entropy: "cross-entropy"},
    mode: {sgd: "stochastic (1 sample)", batch: "batch (all samples)",
      minibatch: "mini-batch"},
    train_on: {digital: "digitally (backpropagation)", chip: "in situ on the chip (pulses)"},
  };
  const ROW = 40; // px between neurons
  const NODE = 32; // px, a neuron's picture

  // what the page knows; window.playground lets a test (or a curious student) look
  const state = {
    meta: null, config: null, chip: null, data: null, frame: null, generation: -1,
    curve: [], playing: false, ws: null, hashSent: false, hashPending: false, layout: null, links: [],
    frames: 0, drawn: 0, ticks: 0, maxGap: 0, lastTick: 0, errors: 0, dirty: false,
    retries: 0,
  };
  window.playground = state;

  // -- colours: class 0 / negative orange, class 1 / positive blue -------------------------
  const ORANGE = [245, 147, 34], MID = [232, 234, 235], BLUE = [8, 119, 189];
  const LUT = new Uint8ClampedArray(256 * 3);
  for (let v = 0; v < 256; v++) {
    const t = v / 255;
    const [a, b, s] = t < 0.5 ? [ORANGE, MID, t * 2] : [MID, BLUE, (t - 0.5) * 2];
    for (let c = 0; c < 3; c++) LUT[3 * v + c] = a[c] + (b[c] - a[c]) * s;
  }
  const rgb = (c) => `rgb(${c[0]},${c[1]},${c[2]})`;

  function bytesOf(b64) {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  const scratch = {};
  function picture(bytes, offset, n) { // an n × n canvas of values 0–255 through the LUT
    let s = scratch[n];
    if (!s) {
      const canvas = document.createElement("canvas");
      canvas.width = canvas.height = n;
      const ctx = canvas.getContext("2d");
      s = scratch[n] = {canvas, ctx, image: ctx.createImageData(n, n)};
    }
    const px = s.image.data;
    for (let i = 0; i < n * n; i++) {
      const v = 3 * bytes[offset + i];
      px[4 * i] = LUT[v]; px[4 * i + 1] = LUT[v + 1]; px[4 * i + 2] = LUT[v + 2];
      px[4 * i + 3] = 255;
    }
    s.ctx.putImageData(s.image, 0, 0);
    return s.canvas;
  }

  function paint(canvas, bytes, offset, n) {
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(picture(bytes, offset, n), 0, 0, canvas.width, canvas.height);
  }

  // -- the connection ------------------------------------------------------------------
  function connect() {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") +
      location.host + "/ws");
    state.ws = ws;
    ws.onopen = () => {
      state.retries = 0;
      status("connected");
      if (document.hidden) send({type: "hidden"});
    };
    ws.onmessage = (event) => {
      let msg;
      try { msg = JSON.parse(event.data); } catch (e) { return; }
      const handler = HANDLERS[msg.type];
      if (handler) handler(msg);
    };
    ws.onclose = () => {
      state.ws = null;
      state.hashSent = false; // a new connection is a new session: tell it this tab's settings
      state.reconnecting = state.config !== null;
      state.wanted = state.config;
      if (state.retries++ < 20) {
        status("connection lost; reconnecting…");
        setTimeout(connect, 1000);
      } else {
        status("connection lost: is `synapsenet playground` still running? Reload to retry.");
      }
    };
  }

  function send(message) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(message));
  }

  function change(settings) { send({type: "config", config: settings}); }

  function status(text) { $("status").textContent = text; }

  const HANDLERS = {
    meta(msg) {
      state.meta = msg;
      buildControls();
    },
    config(msg) {
      state.config = msg.config;
      state.chip = msg.chip;
      showConfig();
      if (!state.hashSent) { // the first configuration: then ask for the URL's, if any
        state.hashSent = true;
        const wanted = state.reconnecting ? state.wanted : fromHash();
        if (wanted) { state.hashPending = true; change(wanted); return; }
      }
      state.hashPending = false;
      writeHash();
    },
    data(msg) {
      state.data = msg;
      state.pointsLayer = null;
      state.dirty = true;
    },
    frame(msg) {
      state.frames++;
      if (msg.generation !== state.generation) {
        state.generation = msg.generation;
        state.curve = [];
      }
      if (msg.train_loss !== null && msg.test_loss !== null) {
        const last = state.curve[state.curve.length - 1];
        if (last && last[0] === msg.epoch) state.curve.pop(); // the same epoch, seen anew
        state.curve.push([msg.epoch, msg.train_loss, msg.test_loss]);
        if (state.curve.length > 2000) state.curve = state.curve.filter((_, i) => i % 2 === 0);
      }
      state.frame = msg;
      state.playing = msg.playing;
      state.dirty = true;
    },
    error(msg) {
      state.errors++;
      if (state.hashPending) { // the link asked for what is not accepted: show what is
        state.hashPending = false;
        writeHash();
      }
      $("error-text").textContent = msg.message;
      $("error").hidden = false;
    },
  };

  // -- the URL -------------------------------------------------------------------------
  function writeHash() {
    const parts = [];
    for (const [name, value] of Object.entries(state.config)) {
      if (value === null) continue;
      const text = encodeURIComponent(Array.isArray(value) ? value.join(",") : value);
      parts.push(`${name}=${text.replace(/%2C/g, ",")}`);
    }
    history.replaceState(null, "", "#" + parts.join("&"));
  }

  function fromHash() {
    if (location.hash.length < 2 || !state.meta) return null;
    const schema = state.meta.schema;
    const out = {}; // a link says everything: what it leaves out is the default
    for (const [name, field] of Object.entries(schema)) out[name] = field.default;
    for (const [name, raw] of new URLSearchParams(location.hash.slice(1))) {
      const field = schema[name];
      if (!field) { out[name] = raw; continue; } // the server names what it does not know
      if (field.kind === "features") out[name] = raw ? raw.split(",") : [];
      else if (field.kind === "layers") {
        out[name] = raw ? raw.split(",").map((v) => (/^\d+$/.test(v) ? Number(v) : v)) : [];
      } else if (field.kind === "int" || field.kind === "number") {
        out[name] = raw === "" || Number.isNaN(Number(raw)) ? raw : Number(raw);
      } else out[name] = raw;
    }
    return out;
  }

  // -- the controls --------------------------------------------------------------------
  function options(select, values, label) {
    select.textContent = "";
    for (const v of values) {
      const o = document.createElement("option");
      o.value = String(v);
      o.textContent = label ? label(v) : String(v);
      select.appendChild(o);
    }
  }

  function buildControls() {
    const m = state.meta, schema = m.schema;
    options($("learning_rate"), LEARNING_RATES);
    options($("l2"), L2S);
    options($("speed"), SPEEDS, (v) => `${v} epochs/s`);
    for (const name of ["activation", "loss", "mode", "train_on"]) {
      options($(name), schema[name].choices, (v) => LABELS[name][v] || v);
    }
    options($("substrate"), schema.substrate.choices,
      (v) => (v === "digital" ? "digital (exact maths)" : `${v} chip`));
    options($("device"), schema.device.choices);
    const sets = $("datasets");
    sets.textContent = "";
    for (const name of schema.dataset.choices) {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.dataset = name;
      b.textContent = LABELS.dataset[name] || name;
      b.addEventListener("click", () => change({dataset: name}));
      sets.appendChild(b);
    }
    for (const name of ["learning_rate", "l2", "speed"]) {
      $(name).addEventListener("change", (e) => change({[name]: Number(e.target.value)}));
    }
    for (const name of ["activation", "loss", "mode", "substrate", "train_on", "device"]) {
      $(name).addEventListener("change", (e) => {
        const c = {[name]: e.target.value};
        if (name === "substrate") {
          Object.assign(c, CHIP_NULL);
          if (c.substrate === "digital") c.train_on = "digital"; // no chip to learn on
        }
        change(c);
      });
    }
    $("batch_size").addEventListener("change", (e) => {
      const v = Number(e.target.value);
      change({batch_size: Number.isInteger(v) ? v : e.target.value});
    });
    slider("ratio", (v) => v / 100, (v) => `${Math.round(v * 100)}%`);
    slider("noise", (v) => v / 100, (v) => `${Math.round(v * 100)}`);
    slider("points", (v) => v, (v) => String(v));
    slider("chip_noise", (v) => v, (v) => v.toFixed(3), true);
    slider("chip_levels", (i) => LEVELS[i], (v) => (v ? String(v) : "continuous"), true);
    slider("chip_adc", (i) => (i ? i + 1 : 0), (v) => (v ? `${v} bits` : "ideal"), true);
    slider("chip_drift", (k) => 20 * Math.pow(10, k / 10), duration, true);
    slider("chip_faults", (v) => v, (v) => `${(v * 100).toFixed(1)}%`, true);
    $("chip-defaults").addEventListener("click", () => change(CHIP_NULL));
    $("regenerate").addEventListener("click",
      () => change({seed: Math.floor(Math.random() * 2147483647)}));
    $("add-layer").addEventListener("click", () => {
      const layers = state.config.layers.slice();
      layers.push(layers.length ? layers[layers.length - 1] : 4);
      change({layers});
    });
    $("remove-layer").addEventListener("click", () => {
      change({layers: state.config.layers.slice(0, -1)});
    });
  }

  const CHIP_NULL = {chip_noise: null, chip_levels: null, chip_adc: null, chip_drift: null,
    chip_faults: null};

  function duration(s) {
    const units = [[3.156e7, "years"], [86400, "days"], [3600, "hours"], [60, "minutes"]];
    for (const [size, name] of units) if (s >= size) return `${(s / size).toPrecision(2)} ${name}`;
    return `${Math.round(s)} s`;
  }

  // a range input: value(position) → setting; shown(setting) → its label. Live ones send
  // while dragged (at most 10 a second), the others when let go.
  const sliders = {};
  function slider(name, value, shown, live) {
    const input = $(name), out = $(`${name}-out`);
    sliders[name] = {value, shown};
    let timer = null;
    const push = () => { timer = null; change({[name]: round(value(Number(input.value)))}); };
    input.addEventListener("input", () => {
      out.textContent = shown(value(Number(input.value)));
      if (live && !timer) timer = setTimeout(push, 100);
    });
    input.addEventListener("change", () => { if (timer) clearTimeout(timer); push(); });
  }
  const round = (v) => (Number.isInteger(v) ? v : Number(v.toPrecision(6)));

  function setSlider(name, setting, fromValue) {
    const s = sliders[name], input = $(name);
    input.value = String(fromValue(setting));
    $(`${name}-out`).textContent = s.shown(setting);
  }

  function selectValue(select, value) {
    const v = String(value);
    if (![...select.options].some((o) => o.value === v)) {
      const o = document.createElement("option");
      o.value = v; o.textContent = v;
      select.appendChild(o);
    }
    select.value = v;
  }

  function showConfig() {
    const c = state.config, chip = state.chip;
    for (const name of ["learning_rate", "l2", "speed", "activation", "loss", "mode",
      "substrate", "train_on", "device"]) selectValue($(name), c[name]);
    $("batch_size").value = c.batch_size;
    $("batch-field").hidden = c.mode !== "minibatch";
    for (const b of $("datasets").children) {
      b.classList.toggle("selected", b.dataset.dataset === c.dataset);
    }
    setSlider("ratio", c.ratio, (v) => Math.round(v * 100));
    setSlider("noise", c.noise, (v) => Math.round(v * 100));
    setSlider("points", c.points, (v) => v);
    const onChip = c.substrate !== "digital";
    for (const name of ["chip_noise", "chip_levels", "chip_adc", "chip_drift", "chip_faults"]) {
      $(name).disabled = !onChip;
    }
    $("train_on").querySelector('option[value="chip"]').disabled = !onChip;
    $("device-field").hidden = c.train_on !== "chip";
    $("chip-defaults").disabled = !onChip;
    $("chip").classList.toggle("digital", !onChip);
    if (chip) {
      setSlider("chip_noise", chip.chip_noise, (v) => v);
      setSlider("chip_levels", chip.chip_levels, (v) => Math.max(0, LEVELS.indexOf(v)));
      setSlider("chip_adc", chip.chip_adc, (v) => (v ? v - 1 : 0));
      setSlider("chip_drift", chip.chip_drift, (v) => Math.round(10 * Math.log10(v / 20)));
      setSlider("chip_faults", chip.chip_faults, (v) => v);
      $("chip_drift-out").textContent = duration(chip.chip_drift) +
        (chip.drifts ? "" : " (these devices do not drift)");
      $("chip-source").textContent = chip.source;
    } else {
      for (const name of ["chip_noise", "chip_levels", "chip_adc", "chip_drift", "chip_faults"]) {
        $(name).value = $(name).min;
        $(`${name}-out`).textContent = "–";
      }
      $("chip-source").textContent = "Exact floating-point maths: every synapse a number.";
    }
    $("l2").disabled = c.train_on === "chip"; // pulses know no L2 penalty
    $("layer-count").textContent = `${c.layers.length} hidden layer${c.layers.length === 1 ? "" : "s"}`;
    $("add-layer").disabled = c.layers.length >= state.meta.limits.layers;
    $("remove-layer").disabled = c.layers.length === 0;
    buildNetwork();
    state.dirty = true;
  }

  // -- the network drawing -------------------------------------------------------------
  function buildNetwork() {
    const c = state.config, m = state.meta;
    const features = Object.keys(m.features);
    const key = JSON.stringify([c.features, c.layers]);
    if (state.layout && state.layout.key === key) return;
    const net = $("network");
    for (const el of [...net.children]) if (el.id !== "links") el.remove();
    const columns = [features, ...c.layers.map((n) => Array.from({length: n}, (_, j) => j)), [0]];
    const width = Math.max(net.clientWidth, 420);
    const top = 34;
    const rows = Math.max(...columns.map((col) => col.length));
    const height = top + rows * ROW + 8;
    net.style.height = `${height}px`;
    const links = $("links");
    links.width = width; links.height = height;
    const x0 = 62, x1 = width - NODE - 8;
    const gap = (x1 - x0) / (columns.length - 1);
    const layout = {key, columns: [], width, height, nodes: []};
    columns.forEach((col, ci) => {
      const x = x0 + ci * gap;
      const nodes = [];
      col.forEach((item, j) => {
        const y = top + j * ROW;
        const node = document.createElement("div");
        node.className = "node";
        node.style.left = `${x}px`; node.style.top = `${y}px`;
        const canvas = document.createElement("canvas");
        canvas.width = canvas.height = NODE;
        node.appendChild(canvas);
        if (ci === 0) {
          const on = c.features.includes(item);
          node.classList.add("input");
          node.classList.toggle("off", !on);
          const label = document.createElement("span");
          label.className = "feature-label";
          label.textContent = m.features[item];
          node.appendChild(label);
          node.title = on ? `${m.features[item]}: click to leave it out` : `${m.features[item]}: click to use it`;
          node.addEventListener("click", () => {
            const now = state.config.features;
            const next = now.includes(item) ? now.filter((f) => f !== item) : [...now, item];
            if (next.length) change({features: next});
          });
          paint(canvas, bytesOf(m.feature_pictures), features.indexOf(item) * m.thumb * m.thumb, m.thumb);
        } else {
          node.addEventListener("mouseenter", (e) => showNeuron(ci, j, e));
          node.addEventListener("mouseleave", hideTip);
        }
        if (ci === columns.length - 1) node.classList.add("output");
        net.appendChild(node);
        nodes.push({x, y, canvas, on: ci > 0 || c.features.includes(item)});
      });
      layout.columns.push(nodes);
      if (ci > 0 && ci < columns.length - 1) { // a hidden layer's own + and −
        const head = document.createElement("div");
        head.className = "layer-head";
        head.style.left = `${x - 14}px`;
        const more = document.createElement("button");
        more.type = "button"; more.textContent = "+"; more.title = "Add a neuron";
        more.disabled = col.length >= m.limits.neurons;
        more.addEventListener("click", () => resize(ci - 1, +1));
        const fewer = document.createElement("button");
        fewer.type = "button"; fewer.textContent = "−"; fewer.title = "Remove a neuron";
        fewer.disabled = col.length <= 1;
        fewer.addEventListener("click", () => resize(ci - 1, -1));
        const n = document.createElement("span");
        n.textContent = `${col.length} neuron${col.length === 1 ? "" : "s"}`;
        head.append(more, fewer, n);
        net.appendChild(head);
      }
    });
    state.layout = layout;
  }

  function resize(layer, by) {
    const layers = state.config.layers.slice();
    layers[layer] = Math.min(state.meta.limits.neurons, Math.max(1, layers[layer] + by));
    change({layers});
  }

  function drawNetwork(frame) {
    const L = state.layout;
    if (!L || !frame.weights) return;
    const bytes = bytesOf(frame.neurons);
    const n = frame.thumb;
    let offset = 0;
    for (let ci = 1; ci < L.columns.length; ci++) {
      for (const node of L.columns[ci]) {
        if (offset + n * n <= bytes.length) paint(node.canvas, bytes, offset, n);
        offset += n * n;
      }
    }
    const ctx = $("links").getContext("2d");
    ctx.clearRect(0, 0, L.width, L.height);
    const inputs = L.columns[0].filter((node) => node.on);
    state.links = [];
    frame.weights.forEach((W, k) => {
      const from = k === 0 ? inputs : L.columns[k];
      const to = L.columns[k + 1];
      if (!to || W.length !== to.length) return;
      W.forEach((row, j) => row.forEach((w, i) => {
        const a = from[i], b = to[j];
        if (!a || !b) return;
        const seg = {x1: a.x + NODE, y1: a.y + NODE / 2, x2: b.x, y2: b.y + NODE / 2, w, k, i, j};
        state.links.push(seg);
        ctx.strokeStyle = rgb(w > 0 ? BLUE : ORANGE);
        ctx.globalAlpha = Math.min(1, 0.35 + Math.abs(w) / 2);
        ctx.lineWidth = Math.min(8, 0.5 + 2 * Math.abs(w));
        ctx.beginPath();
        ctx.moveTo(seg.x1, seg.y1);
        ctx.bezierCurveTo((seg.x1 + seg.x2) / 2, seg.y1, (seg.x1 + seg.x2) / 2, seg.y2, seg.x2, seg.y2);
        ctx.stroke();
      }));
    });
    ctx.globalAlpha = 1;
  }

  function neuronName(ci, j) {
    const L = state.layout;
    if (ci === 0) {
      const f = state.config.features[j];
      return state.meta.features[f] || f;
    }
    if (ci === L.columns.length - 1) return "the output neuron";
    return `neuron ${j + 1} of hidden layer ${ci}`;
  }

  const fmt = (w) => (w >= 0 ? "+" : "−") + Math.abs(w).toFixed(3);

  function showNeuron(ci, j, event) {
    const f = state.frame;
    if (!f || !f.weights[ci - 1]) return;
    const W = f.weights[ci - 1][j], b = f.biases[ci - 1][j];
    const lines = [`${neuronName(ci, j)}: u = Σ w·z + b, z = f(u)`, `b = ${fmt(b)}`];
    W.forEach((w, i) => lines.push(`w from ${neuronName(ci - 1, i)} = ${fmt(w)} (${w >= 0 ? "excitatory" : "inhibitory"})`));
    tip(lines.join("\n"), event);
  }

  function tip(text, event) {
    const t = $("tooltip");
    t.textContent = text;
    t.hidden = false;
    t.style.left = `${event.pageX + 14}px`;
    t.style.top = `${event.pageY + 10}px`;
  }
  function hideTip() { $("tooltip").hidden = true; }

  function nearestLink(x, y) {
    let best = null, bestD = 5;
    for (const s of state.links) { // the straight chord is close enough to the curve
      const dx = s.x2 - s.x1, dy = s.y2 - s.y1;
      const t = Math.max(0, Math.min(1, ((x - s.x1) * dx + (y - s.y1) * dy) / (dx * dx + dy * dy)));
      const d = Math.hypot(x - s.x1 - t * dx, y - s.y1 - t * dy);
      if (d < bestD) { bestD = d; best = s; }
    }
    return best;
  }

  // -- the output: heat map and points, losses ----------------------------------------
  function toPixel(v, size) { return ((v + state.data.extent) / (2 * state.data.extent)) * size; }

  function pointsLayer(canvas) {
    const d = state.data, showTest = $("show-test").checked;
    const key = `${d.generation}:${showTest}:${canvas.width}`;
    if (state.pointsLayer && state.pointsLayer.key === key) return state.pointsLayer.canvas;
    const layer = document.createElement("canvas");
    layer.width = canvas.width; layer.height = canvas.height;
    const ctx = layer.getContext("2d");
    const draw = (points, edge) => {
      for (const [a, b, label] of points) {
        ctx.beginPath();
        ctx.arc(toPixel(a, layer.width), layer.height - toPixel(b, layer.height), 3, 0, 2 * Math.PI);
        ctx.fillStyle = rgb(label ? BLUE : ORANGE);
        ctx.fill();
        ctx.lineWidth = 1;
        ctx.strokeStyle = edge;
        ctx.stroke();
      }
    };
    draw(d.train, "white");
    if (showTest) draw(d.test, "black");
    state.pointsLayer = {key, canvas: layer};
    return layer;
  }

  function drawOutput(frame) {
    const canvas = $("heatmap");
    paint(canvas, bytesOf(frame.heat), 0, frame.grid);
    if (state.data) canvas.getContext("2d").drawImage(pointsLayer(canvas), 0, 0);
    const show = (x) => (x === null ? "–" : x.toFixed(3));
    $("test-loss").textContent = show(frame.test_loss);
    $("train-loss").textContent = show(frame.train_loss);
    const acc = frame.test_accuracy;
    $("accuracy").textContent = acc === null || acc === undefined ? "" :
      `test accuracy ${(100 * acc).toFixed(1)}%`;
    $("epoch").textContent = String(frame.epoch).padStart(6, "0").replace(/(\d{3})(\d{3})$/, "$1,$2");
    $("pulses").textContent = frame.pulses === undefined ? "–" :
      frame.pulses.toLocaleString("en") + (frame.refreshes ? ` (${frame.refreshes} refreshes)` : "");
    $("energy").textContent = frame.energy_j === undefined || frame.energy_j === null ? "–" :
      joules(frame.energy_j);
    $("loss-note").textContent = frame.substrate === "digital" ? "" : frame.train_on === "chip" ?
      `trained in situ on the ${frame.substrate} chip` : `the trained network on the ${frame.substrate} chip`;
    const play = $("play");
    play.innerHTML = frame.playing ? "&#x275A;&#x275A;" : "&#x25B6;";
    play.setAttribute("aria-label", frame.playing ? "pause" : "play");
    play.classList.toggle("playing", frame.playing);
    drawCurve();
  }

  function drawCurve() {
    const canvas = $("loss-chart"), ctx = canvas.getContext("2d");
    const W = canvas.width, H = canvas.height;
    ctx.clearRect(0, 0, W, H);
    const pts = state.curve;
    if (pts.length < 1) return;
    const maxE = Math.max(1, pts[pts.length - 1][0]);
    let maxL = 1e-9;
    for (const p of pts) maxL = Math.max(maxL, p[1], p[2]);
    for (const [col, colour, width] of [[1, "#999", 1.5], [2, "#222", 2]]) {
      ctx.strokeStyle = colour;
      ctx.lineWidth = width;
      ctx.beginPath();
      pts.forEach((p, i) => {
        const x = 2 + (p[0] / maxE) * (W - 4), y = H - 2 - (p[col] / maxL) * (H - 6);
        if (i) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      });
      ctx.stroke();
    }
  }

  // -- the drawing loop: at most one drawing per display frame --------------------------
  function tick(t) {
    state.ticks++;
    if (state.lastTick) state.maxGap = Math.max(state.maxGap, t - state.lastTick);
    state.lastTick = t;
    if (state.dirty && state.frame && state.layout) {
      state.dirty = false;
      drawOutput(state.frame);
      drawNetwork(state.frame);
      state.drawn++;
    }
    requestAnimationFrame(tick);
  }

  // -- the rest of the page --------------------------------------------------------------
  function wire() {
    // a tab in the background needs few frames (the server computes each one)
    document.addEventListener("visibilitychange",
      () => send({type: document.hidden ? "hidden" : "visible"}));
    $("play").addEventListener("click", () => send({type: state.playing ? "pause" : "play"}));
    $("step").addEventListener("click", () => send({type: "step"}));
    $("reset").addEventListener("click", () => send({type: "reset"}));
    $("error-close").addEventListener("click", () => { $("error").hidden = true; });
    $("show-test").addEventListener("change", () => { state.dirty = true; });
    $("share").addEventListener("click", () => {
      const box = $("share-box"), input = $("share-url");
      input.value = location.href;
      box.hidden = false;
      input.select();
      const note = $("share-note");
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(location.href).then(
          () => { note.textContent = "copied"; }, () => { note.textContent = "copy it"; });
      } else note.textContent = "copy it";
    });
    const net = $("network");
    net.addEventListener("mousemove", (e) => {
      if (e.target.closest(".node")) return;
      const r = net.getBoundingClientRect();
      const s = nearestLink(e.clientX - r.left, e.clientY - r.top);
      if (!s) { hideTip(); return; }
      const w = s.w;
      tip(`w = ${fmt(w)}: ${w >= 0 ? "excitatory" : "inhibitory"} synapse from ` +
        `${neuronName(s.k, s.i)} to ${neuronName(s.k + 1, s.j)}`, e);
    });
    net.addEventListener("mouseleave", hideTip);
    window.addEventListener("resize", () => { state.layout = null; if (state.config) { buildNetwork(); state.dirty = true; } });
    window.addEventListener("hashchange", () => { // a link pasted into this tab
      const wanted = fromHash();
      if (wanted && state.config && JSON.stringify(wanted) !== JSON.stringify(hashOf(state.config))) change(wanted);
    });
  }

  function hashOf(config) {
    const out = {};
    for (const [k, v] of Object.entries(config)) if (v !== null) out[k] = v;
    return out;
  }

  wire();
  connect();
  requestAnimationFrame(tick);
})();

// an energy in joules with its SI prefix: 3.2 µJ
function joules(j) {
  const units = [[1, "J"], [1e-3, "mJ"], [1e-6, "µJ"], [1e-9, "nJ"], [1e-12, "pJ"]];
  for (const [scale, unit] of units) {
    if (j >= scale) return `${(j / scale).toPrecision(3)} ${unit}`;
  }
  return `${(j / 1e-15).toPrecision(3)} fJ`;
}
