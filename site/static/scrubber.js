/* divfit scrubber: draws precomputed frames of recorded runs; it never optimises.
 *
 * Each <section class="scrubber" data-scenario=NAME data-assets=URL data-payload=URL>
 * fetches its payload when it nears the screen (media/NAME/scrubber.js, which
 * registers window.divfitData[NAME]), binds to the run boxes the page has and
 * draws, per run: the distribution panel (p, q, q*, importance weights, the
 * particle rug), the landscape (precomputed colour wash, minima, q's trail and
 * marker) and the divergence trace with a cursor. All runs share one frame.
 * The URL fragment (#run=NAME&step=N, plus scenario= when a page has several
 * scrubbers and start= for a start grid) records the frame and restores it.
 * A 2-D scenario (data.dim 2) draws each run on the plane instead (PlaneRun).
 */
(function () {
  "use strict";

  var TAU = 2 * Math.PI;
  var LOG_SQRT_2PI = 0.5 * Math.log(TAU);
  var RUG_LEVELS = 4;
  var X_POINTS = 240;
  var PLAY_SECONDS = 12; // a whole run at 1x
  var READOUT_GAP = "   ";
  // beyond 2 device pixels per CSS pixel a phone's screen shows no more detail,
  // and every frame would fill 2.25 times the pixels
  var MAX_DPR = 2;
  var reducedMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  // (mean, std) -> the run's coordinates phi from the payload's monomials
  // [a, c, b]: phi0 = mean * std^a, phi1 = c * std^b, or log std where b is null
  function phiMap(form) {
    var a = form[0], c = form[1], b = form[2];
    return function (m, s) { return [a ? m * Math.pow(s, a) : m, b === null ? Math.log(s) : c * Math.pow(s, b)]; };
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function shades(hex) {
    // the style's rug shades: the colour mixed with white, faint to full (style.shades)
    var rgb = [1, 3, 5].map(function (i) { return parseInt(hex.slice(i, i + 2), 16); });
    var out = [];
    for (var k = 1; k <= RUG_LEVELS; k++) {
      var f = k / RUG_LEVELS;
      out.push("rgb(" + rgb.map(function (c) { return Math.round(255 - f * (255 - c)); }).join(",") + ")");
    }
    return out;
  }

  function normalPdf(x, m, s) {
    var z = (x - m) / s;
    return Math.exp(-0.5 * z * z - Math.log(s) - LOG_SQRT_2PI);
  }

  function mixturePdf(t, x) {
    var v = 0;
    for (var i = 0; i < t.means.length; i++) v += t.weights[i] * normalPdf(x, t.means[i], t.stds[i]);
    return v;
  }

  function decodeRug(b64) {
    if (!b64) return null;
    var bin = atob(b64), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  /* Python's "{:.4g}" (divcore/render/labels.fmt): 4 significant digits, trailing zeros
   * dropped, exponent form (e+05) below 1e-4 and from 1e4; null (infinite) is ∞. */
  function fmt4g(v) {
    if (v === null || v === undefined || v === Infinity) return "∞";
    if (isNaN(v)) return "–";
    if (v === 0) return "0";
    var exp = Number(v.toExponential(3).split("e")[1]);
    if (exp < -4 || exp >= 4) {
      var parts = v.toExponential(3).split("e");
      var mant = parts[0].indexOf(".") >= 0 ? parts[0].replace(/0+$/, "").replace(/\.$/, "") : parts[0];
      var e = Number(parts[1]);
      return mant + "e" + (e < 0 ? "-" : "+") + (Math.abs(e) < 10 ? "0" : "") + Math.abs(e);
    }
    var fixed = v.toFixed(Math.max(0, 3 - exp));
    return fixed.indexOf(".") >= 0 ? fixed.replace(/0+$/, "").replace(/\.$/, "") : fixed;
  }
  window.divfitFormat = fmt4g;  // for the tests that hold it to Python's

  /* A panel: what moves, drawn every frame on the page's `canvas` (sized by the
   * style sheet), over what does not, drawn once (per size and state) on a
   * canvas of its own behind it; both keep their backing store at the
   * device's pixel density, up to MAX_DPR. */
  function Panel(canvas) {
    this.canvas = canvas;
    this.back = el("canvas", "sc-back");
    this.back.setAttribute("aria-hidden", "true");
    this.backKey = null;
    canvas.parentNode.insertBefore(this.back, canvas);
  }
  Panel.prototype.fit = function () {
    var w = Math.max(1, this.canvas.clientWidth), h = Math.max(1, this.canvas.clientHeight);
    var dpr = this.dpr = Math.min(window.devicePixelRatio || 1, MAX_DPR);
    var W = Math.round(w * dpr), H = Math.round(h * dpr);
    if (this.canvas.width !== W || this.canvas.height !== H) {
      this.canvas.width = this.back.width = W;
      this.canvas.height = this.back.height = H;
      this.backKey = null;
    }
    this.w = w; this.h = h;
    this.ctx = this.ctx || this.canvas.getContext("2d");  // made when first drawn: a context costs memory
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.ctx.clearRect(0, 0, w, h);
    return this.ctx;
  };
  /* Paints the still layer with paint(ctx, w, h) when `key` (what it shows) changed; call after fit. */
  Panel.prototype.backdrop = function (key, paint) {
    if (this.backKey === key) return;
    var c = this.back.getContext("2d");
    c.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    c.clearRect(0, 0, this.w, this.h);
    paint(c, this.w, this.h);
    this.backKey = key;
  };

  /* One run: its DOM, its selected member and its drawing. */
  function Run(scrubber, run, index) {
    var S = scrubber.data;
    this.bind(scrubber, run, index);
    this.pos = shades(S.colours.positive);
    this.neg = shades(S.colours.negative);
    this.rugs = [];  // decoded when their member is first drawn
    var phi = this.phi = phiMap(run.phiForm);
    run.members.forEach(function (m) {  // every start is drawn; the rest of a path when its member is
      var xy = m.std[0] !== null && m.std[0] > 0 && m.mean[0] !== null ? phi(m.mean[0], m.std[0]) : [null, null];
      m.phi0 = [xy[0]]; m.phi1 = [xy[1]];
    });
    var root = this.root, q = function (s) { return root.querySelector(s); };
    var land = q("canvas.sc-land"), axes = run.axes;
    land.setAttribute("aria-label", (run.curve ? "divergence along " + axes[0] : "landscape over " + axes.join(", ")) +
      " with q's path" + (run.grid ? "; click to start from the nearest precomputed start" : ""));
    q(".sc-axes").textContent = run.curve ? axes[0] + " (σ fixed)" : axes[0] + " → , " + axes[1] + " ↑";
    this.dist = new Panel(q("canvas.sc-dist"));
    this.land = new Panel(land);
    if (run.grid) this.addStartPicker(land);
    if (run.landscape) {
      var self = this, img = this.image = new Image();
      img.alt = "";
      img.onload = function () { self.redraw(); };
      img.src = scrubber.assets + run.landscape.image;
    }
    this.prepare();
  }

  /* The run's boxes, already in the page (site/templates/_blocks.html), and its state. */
  Run.prototype.bind = function (scrubber, run, index) {
    this.s = scrubber; this.run = run; this.index = index;
    this.member = run.featured;
    this.colours = scrubber.data.colours;
    this.label = run.label;
    this.visible = !window.IntersectionObserver;  // else drawn once seen (Scrubber.watch)
    var root = this.root = scrubber.section.querySelector('.sc-run[data-run="' + run.name + '"]');
    this.readout = root.querySelector(".sc-readout");
    this.traceCaption = root.querySelector(".sc-trace-label");  // above the trace, not over its data
    this.trace = new Panel(root.querySelector("canvas.sc-trace"));
  };

  /* Draw again at the scrubber's frame, if seen (an image arrived, a start was picked). */
  Run.prototype.redraw = function () {
    if (this.visible) this.draw(this.s.frame);
  };

  Run.prototype.startText = function (m) { return "μ = " + m.start[0] + ", σ = " + m.start[1]; };

  Run.prototype.addStartPicker = function (canvas) {
    var self = this;
    var select = this.select = this.root.querySelector("select.sc-start");
    this.run.members.forEach(function (m, i) {
      var o = el("option", null, self.startText(m));
      o.value = String(i);
      select.appendChild(o);
    });
    select.value = String(this.member);
    // a click on an option replays that start; arrowing through the closed menu only
    // shows each start (Chromium fires change on every arrow key), Enter replays it
    var keyed = false;
    select.addEventListener("pointerdown", function () { keyed = false; });
    select.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter") { ev.preventDefault(); self.pick(+select.value); } else keyed = true;
    });
    select.addEventListener("change", function () { if (keyed) self.show(+select.value); else self.pick(+select.value); });
    canvas.classList.add("sc-pickable");
    canvas.addEventListener("click", function (ev) {
      var r = canvas.getBoundingClientRect();
      self.pick(self.nearestStart((ev.clientX - r.left) / r.width, (ev.clientY - r.top) / r.height));
    });
  };

  Run.prototype.nearestStart = function (fx, fy) {
    var best = 0, bestD = Infinity, L = this.run.landscape;
    for (var i = 0; i < this.run.members.length; i++) {
      var m = this.run.members[i];
      var u = (m.phi0[0] - L.phi0[0]) / (L.phi0[1] - L.phi0[0]);
      var v = 1 - (m.phi1[0] - L.phi1[0]) / (L.phi1[1] - L.phi1[0]);
      var d = (u - fx) * (u - fx) + (v - fy) * (v - fy);
      if (d < bestD) { bestD = d; best = i; }
    }
    return best;
  };

  /* Show another start's trajectory at the current frame, without replaying it. */
  Run.prototype.show = function (member) {
    this.member = member;
    this.prepare();
    this.s.focusRun = this.run.name;
    this.s.draw();
    if (!this.s.playing) { this.s.writeHash(); this.s.announce(); }
  };

  Run.prototype.pick = function (member) {
    this.member = member;
    if (this.select) this.select.value = String(member);
    this.prepare();
    this.s.focusRun = this.run.name;
    // a pick replays from the start, also when a replay is already running
    this.s.pause();
    if (reducedMotion) { this.s.go(this.s.frames.length - 1); }
    else { this.s.go(0); this.s.play(true); }
  };

  /* A member's path in the run's coordinates, and its particles, made when it is first shown. */
  Run.prototype.unpack = function (m) {
    if (m.phi0.length < m.mean.length) {
      for (var f = 1; f < m.mean.length; f++) {
        var ok = m.mean[f] !== null && m.std[f] !== null && m.std[f] > 0;
        var xy = ok ? this.phi(m.mean[f], m.std[f]) : [null, null];
        m.phi0.push(xy[0]); m.phi1.push(xy[1]);
      }
    }
    if (this.rugs[this.member] === undefined) this.rugs[this.member] = decodeRug(m.rug);
  };

  /* Per-member scales that stay fixed over the frames. */
  Run.prototype.prepare = function () {
    var S = this.s.data, m = this.run.members[this.member];
    this.unpack(m);
    var lo = S.x[0], hi = S.x[1], xs = [], ps = [], pmax = 0;
    for (var i = 0; i < X_POINTS; i++) {
      var x = lo + (hi - lo) * i / (X_POINTS - 1);
      var p = mixturePdf(S.target, x);
      xs.push(x); ps.push(p); pmax = Math.max(pmax, p);
    }
    this.xs = xs; this.ps = ps;
    // the panel's y-range and rug band, as the figures and videos have them (divcore/render/view.py)
    var F = this.run.panel;
    this.top = m.top;
    this.bottom = F.bottom * m.top;
    this.rugBand = [F.rugBand[0] * m.top, F.rugBand[1] * m.top];
    this.traceScale(m);
  };

  Run.prototype.traceScale = function (m) {
    var vals = m.value.filter(function (v) { return v !== null && v > 0; });
    this.vmin = vals.length ? Math.min.apply(null, vals) : 1e-3;
    this.vmax = vals.length ? Math.max.apply(null, vals) : 1;
    this.logTrace = this.vmax / this.vmin > 30;
    this.traceCaption.textContent = this.label + " by step" + (this.logTrace ? " (log scale)" : "");
  };

  Run.prototype.at = function (frame) {
    var m = this.run.members[this.member];
    var steps = this.s.frames[frame];
    return {
      step: Math.min(steps, this.run.steps), mean: m.mean[frame], std: m.std[frame],
      phi0: m.phi0[frame], phi1: m.phi1[frame], value: m.value[frame], ess: m.ess ? m.ess[frame] : null
    };
  };

  /* The readout's lines, as Readout.lines in divcore/render/view.py writes them. */
  Run.prototype.readoutText = function (st) {
    var parts = [this.label + " = " + fmt4g(st.value)];
    if (this.run.samples && st.ess !== null) parts.push("ESS = " + st.ess.toFixed(1) + " / " + this.run.samples);
    parts.push("step " + st.step + " / " + this.run.steps);
    return parts.join(READOUT_GAP);
  };

  /* The distribution canvas's text alternative: where q is at this state. */
  Run.prototype.describe = function (st) {
    var where = st.mean === null || st.std === null ? "q has left the family"
      : "q = N(" + fmt4g(st.mean) + ", " + fmt4g(st.std) + "²)";
    this.dist.canvas.setAttribute("aria-label", "Run " + this.run.name + " at step " + st.step + ": " + where +
      " over the target p, with the optimal q dashed");
  };

  Run.prototype.showReadout = function (st) {
    this.readout.textContent = this.readoutText(st);
    this.readout.dataset.step = String(st.step);
    this.readout.dataset.value = st.value === null ? "inf" : String(st.value);
    this.readout.dataset.member = String(this.member);
  };

  /* The run's panels at `frame`: its still layers once, what moves every time. */
  Run.prototype.draw = function (frame) {
    var st = this.at(frame);
    this.drawDistribution(frame, st);
    if (this.run.curve) this.drawCurve(frame, st); else this.drawLandscape(frame, st);
    this.drawTrace(frame);
    this.root.dataset.drawn = String(frame);
  };

  Run.prototype.drawDistribution = function (frame, st) {
    var c = this.dist.fit(), w = this.dist.w, h = this.dist.h, C = this.colours;
    var xs = this.xs, lo = xs[0], hi = xs[xs.length - 1], top = this.top, bottom = this.bottom;
    var X = function (x) { return 4 + (w - 8) * (x - lo) / (hi - lo); };
    var Y = function (y) { return h - 2 - (h - 8) * (Math.min(y, top) - bottom) / (top - bottom); };
    var i, self = this;
    this.dist.backdrop("member " + this.member, function (b) {
      // p, shaded with its outline
      b.beginPath(); b.moveTo(X(lo), Y(0));
      for (i = 0; i < xs.length; i++) b.lineTo(X(xs[i]), Y(self.ps[i]));
      b.lineTo(X(hi), Y(0)); b.closePath();
      b.fillStyle = C.p_fill; b.fill();
      b.strokeStyle = C.p_line; b.lineWidth = 1.5; b.stroke();
      // q*: dashed for the global optimum, dotted for local ones
      self.run.optima.forEach(function (o) {
        b.beginPath();
        for (i = 0; i < xs.length; i++) {
          var y = Y(normalPdf(xs[i], o.mean, o.std));
          if (i) b.lineTo(X(xs[i]), y); else b.moveTo(X(xs[i]), y);
        }
        b.setLineDash(self.s.data.dash[o.role]);
        b.strokeStyle = C["q_star_" + o.role]; b.lineWidth = 1.4; b.stroke();
      });
      b.setLineDash([]);
      // the axis
      var base = Y(0);
      b.beginPath(); b.moveTo(0, base + 0.5); b.lineTo(w, base + 0.5);
      b.strokeStyle = "#555"; b.lineWidth = 1; b.stroke();
    });
    if (st.mean === null || st.std === null) return;
    // the importance weight w = p/q to the power the estimator uses, divided by the frame's
    // scale (its largest value where q has mass, from the payload) and drawn at 90% of the
    // top; where q thins out the weights explode and are cut at the top
    var scale = this.run.members[this.member].weightScale;
    if (scale && scale[frame] !== null) {
      var e = this.run.weightExponent, k = 0.9 * top / scale[frame];
      c.beginPath();
      for (i = 0; i < xs.length; i++) {
        var r = Math.pow(self.ps[i] / normalPdf(xs[i], st.mean, st.std), e);
        var yw = Y(isFinite(r) ? Math.min(r * k, 1.05 * top) : 1.05 * top);
        if (i) c.lineTo(X(xs[i]), yw); else c.moveTo(X(xs[i]), yw);
      }
      c.strokeStyle = C.weight; c.lineWidth = 1.2; c.stroke();
    }
    // q
    c.beginPath();
    for (i = 0; i < xs.length; i++) {
      var yq = Y(normalPdf(xs[i], st.mean, st.std));
      if (i) c.lineTo(X(xs[i]), yq); else c.moveTo(X(xs[i]), yq);
    }
    c.strokeStyle = C.q; c.lineWidth = 2.5; c.stroke();
    // the particle rug: colour by the sign of each particle's coefficient, shade by its size
    var rug = this.rugs[this.member];
    if (rug) {
      var n = this.run.rugMax, off = frame * n * 2;
      c.lineWidth = 1.5;
      for (i = 0; i < n; i++) {
        var level = rug[off + 2 * i + 1];
        if (!level) continue;
        var x = 4 + (w - 8) * rug[off + 2 * i] / 255;
        c.strokeStyle = level <= RUG_LEVELS ? this.pos[level - 1] : this.neg[level - 1 - RUG_LEVELS];
        c.beginPath(); c.moveTo(x, Y(this.rugBand[1])); c.lineTo(x, Y(this.rugBand[0])); c.stroke();
      }
    }
  };

  Run.prototype.drawLandscape = function (frame, st) {
    var c = this.land.fit(), w = this.land.w, h = this.land.h, C = this.colours, L = this.run.landscape;
    var X = function (a) { return w * (a - L.phi0[0]) / (L.phi0[1] - L.phi0[0]); };
    var Y = function (b) { return h * (1 - (b - L.phi1[0]) / (L.phi1[1] - L.phi1[0])); };
    var self = this, image = this.image && this.image.complete && this.image.naturalWidth;
    this.land.backdrop("member " + this.member + (image ? " image" : ""), function (b) {
      if (image) {
        b.imageSmoothingEnabled = true;
        b.drawImage(self.image, 0, 0, w, h);
      } else {
        b.fillStyle = C.infinite; b.fillRect(0, 0, w, h);
      }
      // minima: a star for the global one, diamonds for local ones
      self.run.optima.forEach(function (o, k) {
        if (!o.phi || o.phi[0] === null) return;
        star(b, X(o.phi[0]), Y(o.phi[1]), k === 0 ? 8 : 6, k === 0);
      });
      // start grid: small rings at every start, white on black so they show on the
      // yellow of the wash as on its blue
      if (self.run.grid) {
        self.run.members.forEach(function (m, i) {
          b.beginPath(); b.arc(X(m.phi0[0]), Y(m.phi1[0]), i === self.member ? 5 : 3, 0, TAU);
          b.strokeStyle = "#000"; b.lineWidth = 2.5; b.stroke();
          b.strokeStyle = "#fff"; b.lineWidth = 1; b.stroke();
        });
      }
    });
    var m = this.run.members[this.member];
    var pts = [];
    for (var f = 0; f <= frame; f++) if (m.phi0[f] !== null && m.phi1[f] !== null) pts.push([X(m.phi0[f]), Y(m.phi1[f])]);
    [[C.trail_edge, 4], [C.trail, 2]].forEach(function (style) {
      c.beginPath();
      pts.forEach(function (p, i) { if (i) c.lineTo(p[0], p[1]); else c.moveTo(p[0], p[1]); });
      c.strokeStyle = style[0]; c.lineWidth = style[1]; c.lineJoin = "round"; c.stroke();
    });
    if (pts.length) {
      var s0 = [X(m.phi0[0]), Y(m.phi1[0])];
      c.beginPath(); c.arc(s0[0], s0[1], 5, 0, TAU); c.strokeStyle = "#000"; c.lineWidth = 3; c.stroke();
      c.strokeStyle = "#fff"; c.lineWidth = 1.5; c.stroke();
      var last = pts[pts.length - 1];
      c.beginPath(); c.arc(last[0], last[1], 6, 0, TAU);
      c.fillStyle = C.marker; c.fill(); c.strokeStyle = "#000"; c.lineWidth = 1.2; c.stroke();
    }
  };

  function star(c, x, y, r, five) {
    c.beginPath();
    var n = five ? 5 : 2;
    for (var i = 0; i < 2 * n; i++) {
      var rr = i % 2 ? (five ? r * 0.45 : r * 0.6) : r;
      var a = -Math.PI / 2 + i * Math.PI / n;
      if (i) c.lineTo(x + rr * Math.cos(a), y + rr * Math.sin(a)); else c.moveTo(x + rr * Math.cos(a), y + rr * Math.sin(a));
    }
    c.closePath(); c.fillStyle = "#fff"; c.fill(); c.strokeStyle = "#000"; c.lineWidth = 1.2; c.stroke();
  }

  Run.prototype.drawCurve = function (frame, st) {
    var c = this.land.fit(), w = this.land.w, h = this.land.h, C = this.colours, K = this.run.curve;
    // the value range of the figures and videos (RunView.curve_box): values above it are not drawn
    var lo = K.limits[0], hi = K.limits[1];
    var X = function (a) { return 8 + (w - 16) * (a - K.phi0[0]) / (K.phi0[K.phi0.length - 1] - K.phi0[0]); };
    var Y = function (v) { return h - (h * (Math.min(Math.max(v, lo), hi) - lo)) / (hi - lo); };
    var optima = this.run.optima;
    this.land.backdrop("curve", function (b) {
      b.fillStyle = "#fff"; b.fillRect(0, 0, w, h);
      b.beginPath();
      var drawing = false;
      K.phi0.forEach(function (a, i) {
        var v = K.value[i];
        if (v === null || v > hi) { drawing = false; return; }
        if (drawing) b.lineTo(X(a), Y(v)); else { b.moveTo(X(a), Y(v)); drawing = true; }
      });
      b.strokeStyle = C.p_line; b.lineWidth = 2; b.stroke();
      optima.forEach(function (o, k) {
        if (o.phi && o.phi[0] !== null && o.value !== null) star(b, X(o.phi[0]), Y(o.value), k === 0 ? 8 : 6, k === 0);
      });
    });
    if (st.phi0 !== null && st.value !== null) {
      c.beginPath(); c.arc(X(st.phi0), Y(st.value), 6, 0, TAU);
      c.fillStyle = C.marker; c.fill(); c.strokeStyle = "#000"; c.lineWidth = 1.2; c.stroke();
    }
  };

  Run.prototype.drawTrace = function (frame) {
    var c = this.trace.fit(), w = this.trace.w, h = this.trace.h, C = this.colours;
    var m = this.run.members[this.member], frames = this.s.frames, last = frames[frames.length - 1] || 1;
    var self = this;
    var lo = this.logTrace ? Math.log(this.vmin) : 0, hi = this.logTrace ? Math.log(this.vmax) : this.vmax;
    var Y = function (v) {
      var t = self.logTrace ? (Math.log(Math.max(v, self.vmin)) - lo) / Math.max(hi - lo, 1e-12) : v / Math.max(hi, 1e-12);
      return h - 3 - (h - 6) * Math.min(Math.max(t, 0), 1);
    };
    var X = function (s) { return 2 + (w - 4) * s / last; };
    this.trace.backdrop("member " + this.member, function (b) {
      b.beginPath();
      var started = false;
      m.value.forEach(function (v, i) {
        if (v === null) { started = false; return; }
        if (started) b.lineTo(X(frames[i]), Y(v)); else { b.moveTo(X(frames[i]), Y(v)); started = true; }
      });
      b.strokeStyle = C.q; b.lineWidth = 1.5; b.stroke();
    });
    var x = X(frames[frame]);
    c.beginPath(); c.moveTo(x, 0); c.lineTo(x, h); c.strokeStyle = "#222"; c.lineWidth = 1; c.stroke();
    var v = m.value[frame];
    if (v !== null) { c.beginPath(); c.arc(x, Y(v), 3, 0, TAU); c.fillStyle = C.marker; c.fill(); }
  };

  /* A run on the plane (data.dim 2): p's contours (one image for the scenario),
   * q's 1- and 2-sd ellipses, the optima's, the particles and the path of q's
   * mean, beside the divergence trace. The readout, trace, start picker and
   * deep links are the line's. */
  function PlaneRun(scrubber, run, index) {
    this.bind(scrubber, run, index);
    this.dots = [];  // decoded when their member is first drawn
    var plane = this.root.querySelector("canvas.sc-plane");
    this.plane = new Panel(plane);
    if (run.grid) this.addStartPicker(plane);
    this.prepare();
  }
  PlaneRun.prototype = Object.create(Run.prototype);
  PlaneRun.prototype.constructor = PlaneRun;

  PlaneRun.prototype.startText = function (m) { return "mean = (" + m.start[0] + ", " + m.start[1] + ")"; };

  PlaneRun.prototype.prepare = function () {
    var m = this.run.members[this.member];
    if (this.dots[this.member] === undefined) this.dots[this.member] = decodeRug(m.dots);
    this.traceScale(m);
  };

  /* The window's fractions (0..1, y down) of a point of the plane. */
  PlaneRun.prototype.unit = function (x, y) {
    var W = this.s.data.window;
    return [(x - W[0][0]) / (W[0][1] - W[0][0]), 1 - (y - W[1][0]) / (W[1][1] - W[1][0])];
  };

  PlaneRun.prototype.nearestStart = function (fx, fy) {
    var best = 0, bestD = Infinity;
    for (var i = 0; i < this.run.members.length; i++) {
      var u = this.unit(this.run.members[i].start[0], this.run.members[i].start[1]);
      var d = (u[0] - fx) * (u[0] - fx) + (u[1] - fy) * (u[1] - fy);
      if (d < bestD) { bestD = d; best = i; }
    }
    return best;
  };

  PlaneRun.prototype.describe = function (st) {
    var m = this.run.members[this.member], f = st.frame;
    var where = m.m1[f] === null || m.m2[f] === null ? "q has left the family"
      : "q's mean at (" + fmt4g(m.m1[f]) + ", " + fmt4g(m.m2[f]) + ")";
    this.plane.canvas.setAttribute("aria-label", "Run " + this.run.name + " at step " + st.step + ": " + where +
      ", its 1 and 2 sd ellipses over p's density contours");
  };

  PlaneRun.prototype.at = function (frame) {
    var m = this.run.members[this.member];
    return { step: Math.min(this.s.frames[frame], this.run.steps), value: m.value[frame],
             ess: m.ess ? m.ess[frame] : null, frame: frame };
  };

  PlaneRun.prototype.draw = function (frame) {
    this.drawPlane(frame);
    this.drawTrace(frame);
    this.root.dataset.drawn = String(frame);
  };

  /* Whether a state has every number of its ellipse and a positive-definite covariance
   * (a non-finite value arrives as null, which arithmetic would read as 0). */
  function drawable(m1, m2, s11, s12, s22) {
    return m1 !== null && m2 !== null && s11 !== null && s12 !== null && s22 !== null &&
      s11 > 0 && s11 * s22 - s12 * s12 > 0;
  }

  /* The k-sd ellipse of N(mean, [[s11, s12], [s12, s22]]) through its Cholesky factor. */
  function ellipsePath(c, P, m1, m2, s11, s12, s22, k) {
    var l11 = Math.sqrt(s11), l21 = s12 / l11, l22 = Math.sqrt(Math.max(s22 - l21 * l21, 0));
    c.beginPath();
    for (var i = 0; i <= 96; i++) {
      var t = TAU * i / 96, a = Math.cos(t), b = Math.sin(t);
      var xy = P(m1 + k * l11 * a, m2 + k * (l21 * a + l22 * b));
      if (i) c.lineTo(xy[0], xy[1]); else c.moveTo(xy[0], xy[1]);
    }
    c.closePath();
  }

  PlaneRun.prototype.drawPlane = function (frame) {
    var c = this.plane.fit(), w = this.plane.w, h = this.plane.h, C = this.colours, S = this.s.data, self = this;
    var P = function (x, y) { var u = self.unit(x, y); return [u[0] * w, u[1] * h]; };
    var img = this.s.density, image = img && img.complete && img.naturalWidth;
    this.plane.backdrop("member " + this.member + (image ? " image" : ""), function (b) {
      if (image) b.drawImage(img, 0, 0, w, h);
      else { b.fillStyle = "#fff"; b.fillRect(0, 0, w, h); }
      self.run.optima.forEach(function (o) {
        if (!drawable(o.mean[0], o.mean[1], o.cov[0], o.cov[1], o.cov[2])) return;
        b.setLineDash(S.dash[o.role]);
        b.strokeStyle = C["q_star_" + o.role]; b.lineWidth = 1.3;
        S.sigmas.forEach(function (k) {
          ellipsePath(b, P, o.mean[0], o.mean[1], o.cov[0], o.cov[1], o.cov[2], k); b.stroke();
        });
      });
      b.setLineDash([]);
      if (self.run.grid) {  // every precomputed start, dark rings on the light contours
        b.lineWidth = 1.5; b.strokeStyle = "rgba(0,0,0,0.7)";
        self.run.members.forEach(function (m, j) {
          var xy = P(m.start[0], m.start[1]);
          b.beginPath(); b.arc(xy[0], xy[1], j === self.member ? 6 : 4, 0, TAU); b.stroke();
        });
      }
    });
    var i;
    var m = this.run.members[this.member];
    // the path of q's mean so far, from its start
    c.beginPath();
    var started = false;
    for (i = 0; i <= frame; i++) {
      if (m.m1[i] === null || m.m2[i] === null) continue;
      var p = P(m.m1[i], m.m2[i]);
      if (started) c.lineTo(p[0], p[1]); else { c.moveTo(p[0], p[1]); started = true; }
    }
    c.strokeStyle = C.q; c.lineWidth = 1.2; c.lineJoin = "round"; c.stroke();
    var s0 = P(m.start[0], m.start[1]);
    c.beginPath(); c.arc(s0[0], s0[1], 4, 0, TAU); c.fillStyle = "#fff"; c.fill();
    c.strokeStyle = C.q; c.lineWidth = 1.5; c.stroke();
    if (drawable(m.m1[frame], m.m2[frame], m.s11[frame], m.s12[frame], m.s22[frame])) {
      c.strokeStyle = C.q;
      S.sigmas.forEach(function (k, j) {
        ellipsePath(c, P, m.m1[frame], m.m2[frame], m.s11[frame], m.s12[frame], m.s22[frame], k);
        c.lineWidth = j ? 1.5 : 2.5; c.stroke();
      });
    }
    if (started) {  // q's mean now
      c.beginPath(); c.arc(p[0], p[1], 5, 0, TAU);
      c.fillStyle = C.marker; c.fill(); c.strokeStyle = "#000"; c.lineWidth = 1; c.stroke();
    }
    var dots = this.dots[this.member];
    if (dots) {
      var n = this.run.dotMax, off = frame * n * 3;
      for (i = 0; i < n; i++) {
        var sign = dots[off + 3 * i + 2];
        if (!sign) continue;
        c.beginPath(); c.arc(w * dots[off + 3 * i] / 255, h * (1 - dots[off + 3 * i + 1] / 255), 2.2, 0, TAU);
        c.fillStyle = sign === 1 ? C.positive : C.negative; c.fill();
      }
    }
  };

  /* One scrubber: the shared frame, the controls and the runs. */
  function Scrubber(section, data, many) {
    this.section = section; this.data = data; this.many = many;
    this.frames = data.frames;
    this.frame = 0; this.playing = false; this.speed = 1;
    this.assets = section.dataset.assets || "";
    var self = this;
    var box = section.querySelector(".scrubber-runs");
    if (data.density) {  // the plane's contours, one image for every run
      this.density = new Image();
      this.density.alt = "";
      this.density.onload = function () { self.draw(); };  // draws the runs already seen
      this.density.src = this.assets + data.density;
    }
    var Kind = data.dim === 2 ? PlaneRun : Run;
    this.runs = data.runs.map(function (r, i) { return new Kind(self, r, i); });
    this.focusRun = data.runs[0].name;
    var q = function (s) { return section.querySelector(s); };
    this.slider = q(".sc-slider"); this.playButton = q(".sc-play"); this.stepOut = q(".sc-step");
    this.slider.max = String(this.frames.length - 1);
    this.slider.addEventListener("input", function () { self.pause(); self.go(+self.slider.value); });
    this.playButton.addEventListener("click", function () { self.playing ? self.pause() : self.play(); });
    q(".sc-back").addEventListener("click", function () { self.pause(); self.go(self.frame - 1); });
    q(".sc-fwd").addEventListener("click", function () { self.pause(); self.go(self.frame + 1); });
    q(".sc-speed").addEventListener("change", function (ev) { self.speed = +ev.target.value; });
    // what a screen reader hears when the reader moves the frame (not on every frame of playback)
    this.announcer = el("p", "sc-announce");
    this.announcer.setAttribute("aria-live", "polite");
    section.appendChild(this.announcer);
    section.tabIndex = 0;
    section.addEventListener("keydown", function (ev) { self.key(ev); });
    if (window.ResizeObserver) new ResizeObserver(function () { self.draw(); }).observe(box);
    this.watch();
    section.classList.add("ready");
    this.go(0, true);
  }

  /* A run's canvases are drawn only while it is on screen (or nearly): a page
   * of many scrubbers costs nothing until it is read, and playback draws only
   * what the reader sees. A run that comes into view is drawn at the frame. */
  Scrubber.prototype.watch = function () {
    if (!window.IntersectionObserver) return;
    var self = this;
    var seen = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) {
        var run = self.runs[+e.target.dataset.index];
        run.visible = e.isIntersecting;
        if (run.visible && run.root.dataset.drawn !== String(self.frame)) run.draw(self.frame);
      });
    }, { rootMargin: "50% 0px" });
    this.runs.forEach(function (run, i) { run.root.dataset.index = String(i); seen.observe(run.root); });
    // a printed page shows every run
    window.addEventListener("beforeprint", function () {
      self.runs.forEach(function (run) { run.visible = true; run.draw(self.frame); });
    });
  };

  Scrubber.prototype.key = function (ev) {
    var tag = ev.target.tagName;
    if (tag === "SELECT" || tag === "TEXTAREA" || (tag === "BUTTON" && (ev.key === " " || ev.key === "Enter"))) return;
    var inSlider = tag === "INPUT";
    if (ev.key === " " || ev.key === "Spacebar") { this.playing ? this.pause() : this.play(); }
    else if (inSlider) return; // the range input moves itself on arrows, Home and End
    else if (ev.key === "ArrowLeft") { this.pause(); this.go(this.frame - 1); }
    else if (ev.key === "ArrowRight") { this.pause(); this.go(this.frame + 1); }
    else if (ev.key === "Home") { this.pause(); this.go(0); }
    else if (ev.key === "End") { this.pause(); this.go(this.frames.length - 1); }
    else return;
    ev.preventDefault();
  };

  Scrubber.prototype.go = function (frame, quiet) {
    this.frame = Math.max(0, Math.min(this.frames.length - 1, frame | 0));
    var step = "step " + this.frames[this.frame];
    this.slider.value = String(this.frame);
    this.slider.setAttribute("aria-valuetext", step + " of " + this.frames[this.frames.length - 1]);
    this.stepOut.textContent = step;
    this.section.dataset.frame = String(this.frame);
    this.section.dataset.step = String(this.frames[this.frame]);
    this.draw();
    if (!quiet && !this.playing) {
      this.writeHash();
      this.announce();
    }
  };

  Scrubber.prototype.draw = function () {
    for (var i = 0; i < this.runs.length; i++) {
      var run = this.runs[i];
      run.showReadout(run.at(this.frame));
      if (run.visible) run.draw(this.frame);
    }
  };

  /* The frame in words, for the live region and the canvases' labels: each run's
   * divergence (and ESS) at the step, and where q is. */
  Scrubber.prototype.announce = function () {
    var self = this, lines = [];
    this.runs.forEach(function (run) {
      var st = run.at(self.frame);
      lines.push(run.run.name + ": " + run.readoutText(st).split(READOUT_GAP).join(", "));
      run.describe(st);
    });
    this.announcer.textContent = lines.join(". ") + ".";
  };

  Scrubber.prototype.play = function (fromPick) {
    if (this.playing) return;
    if (this.frame >= this.frames.length - 1 && !fromPick) this.go(0, true);
    this.playing = true;
    this.playButton.textContent = "Pause";
    this.playButton.setAttribute("aria-label", "Pause");
    var self = this, last = null, pos = this.frame;
    var token = this.playToken = {};  // a pause and a new play must not leave two loops running
    var tick = function (now) {
      if (!self.playing || self.playToken !== token) return;
      if (last !== null) pos += (now - last) / 1000 * self.speed * self.frames.length / PLAY_SECONDS;
      last = now;
      if (pos >= self.frames.length - 1) { self.go(self.frames.length - 1, true); self.pause(); return; }
      if ((pos | 0) !== self.frame) self.go(pos, true);
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  };

  Scrubber.prototype.pause = function () {
    if (!this.playing) return;
    this.playing = false;
    this.playButton.textContent = "Play";
    this.playButton.setAttribute("aria-label", "Play");
    this.writeHash();
    this.announce();
  };

  Scrubber.prototype.writeHash = function () {
    var run = this.runFor(this.focusRun) || this.runs[0];
    var parts = [];
    if (this.many) parts.push("scenario=" + encodeURIComponent(this.data.scenario));
    parts.push("run=" + encodeURIComponent(run.run.name), "step=" + this.frames[this.frame]);
    if (run.run.grid && run.member !== run.run.featured) parts.push("start=" + run.member);
    for (var i = 0; i < this.runs.length; i++) {
      var other = this.runs[i];
      if (other !== run && other.run.grid && other.member !== other.run.featured) {
        parts.push("start." + encodeURIComponent(other.run.name) + "=" + other.member);
      }
    }
    // a document with no address of its own (a notebook's srcdoc frame) keeps no fragment
    if (history.replaceState && location.protocol !== "about:") history.replaceState(null, "", "#" + parts.join("&"));
  };

  Scrubber.prototype.runFor = function (name) {
    for (var i = 0; i < this.runs.length; i++) if (this.runs[i].run.name === name) return this.runs[i];
    return null;
  };

  /* Restore a deep link: the frame whose step is nearest to the one asked for. */
  Scrubber.prototype.restore = function (params) {
    var run = params.run ? this.runFor(params.run) : this.runs[0];
    if (!run) return false;
    this.focusRun = run.run.name;
    // start=N is the named run's start; start.NAME=N those of the other runs
    for (var r = 0; r < this.runs.length; r++) {
      var other = this.runs[r], given = other === run ? params.start : params["start." + other.run.name];
      if (given === undefined || !other.run.grid) continue;
      var b = parseInt(given, 10);
      if (b >= 0 && b < other.run.members.length) {
        other.member = b; other.prepare();
        if (other.select) other.select.value = String(b);
      }
    }
    var step = parseInt(params.step, 10), best = 0;
    if (!isNaN(step)) {
      for (var i = 0; i < this.frames.length; i++) {
        if (Math.abs(this.frames[i] - step) < Math.abs(this.frames[best] - step)) best = i;
      }
    }
    this.go(best, true);
    run.root.scrollIntoView({ block: "center", behavior: "auto" });
    return true;
  };

  function hashParams() {
    var out = {};
    location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
      var i = kv.indexOf("=");
      if (i > 0) out[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1));
    });
    return out;
  }

  /* Each scrubber's payload (media/NAME/scrubber.js, a few hundred KB for a long
   * run) is fetched when the scrubber comes within a screen of being seen, and
   * the scrubber is made when it arrives: a long page downloads and sets up only
   * what its reader scrolls to. A deep link loads every payload, then restores. */
  function init() {
    var sections = document.querySelectorAll("section.scrubber[data-scenario]");
    var store = window.divfitData = window.divfitData || {};
    var made = [], asked = [];
    window.divfitScrubbers = [];
    var make = function (i) {
      var data = store[sections[i].dataset.scenario];
      if (made[i] || !data) return;
      made[i] = new Scrubber(sections[i], data, sections.length > 1);
      window.divfitScrubbers = made.filter(Boolean);  // in the page's order
    };
    var load = function (i, then) {
      var section = sections[i];
      if (store[section.dataset.scenario] || !section.dataset.payload) { make(i); if (then) then(); return; }
      if (asked[i]) { asked[i].push(then); return; }
      asked[i] = [then];
      var script = document.createElement("script");
      script.src = section.dataset.payload;
      script.onload = script.onerror = function () {
        make(i);
        asked[i].forEach(function (f) { if (f) f(); });
      };
      document.head.appendChild(script);
    };
    var restore = function () {
      var params = hashParams();
      if (!params.step && !params.run) return;
      var scrubbers = window.divfitScrubbers;
      for (var j = 0; j < scrubbers.length; j++) {
        var s = scrubbers[j];
        if (params.scenario && params.scenario !== s.data.scenario) continue;
        if (s.restore(params)) break;
      }
    };
    var loadAll = function () {  // then restore the link
      var left = sections.length;
      for (var k = 0; k < sections.length; k++) load(k, function () { if (--left === 0) restore(); });
    };
    var i;
    if ((hashParams().step || hashParams().run) || !window.IntersectionObserver) {
      loadAll();
    } else {
      var near = new IntersectionObserver(function (entries) {
        entries.forEach(function (e) {
          if (!e.isIntersecting) return;
          near.unobserve(e.target);
          load(+e.target.dataset.order);
        });
      }, { rootMargin: "100% 0px" });
      for (i = 0; i < sections.length; i++) { sections[i].dataset.order = String(i); near.observe(sections[i]); }
    }
    window.addEventListener("hashchange", loadAll);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
