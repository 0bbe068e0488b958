/**
 * sightline.js: Sightline's browser SDK (docs/sdk.md). Plain JavaScript, no dependencies, no build step.
 *
 *   const monitor = Sightline.monitor(video, {ingestKey: 'sli_…', hls, dimensions: {assetid: 'ep-1'}});
 *
 * watches an HTML5 <video> (and the hls.js or dash.js player driving it, when given) and sends each
 * playback view to the collector's POST /collect in the native beacon format (docs/beacon-format.md).
 * Invariants the collector relies on, kept here:
 * - a view starts at a play request, with a UUIDv7 id minted then; it has one play_request, at most one
 *   first_frame (with startup_ms) and exactly one terminal event (end, exit, or a fatal error), after
 *   which it sends nothing; the next play request starts a new view;
 * - play_ms, rebuffer_ms, bytes and dropped_frames are deltas since the view's previous event, carried
 *   by the event at which they are measured; interval_bitrate_kbps is the bitrate over that play_ms;
 * - a batch holds events of one view; batches are retried on network errors, 408, 429 and 5xx with
 *   exponential backoff or the server's Retry-After (the collector drops repeated seqs), and what is
 *   still queued when the page is hidden goes out with navigator.sendBeacon.
 */
(function (root) {
  'use strict';

  const VERSION = '0.1.0';
  const HEARTBEAT_MS = 10000;
  const BATCH_DELAY_MS = 2000;
  const MAX_BATCH_EVENTS = 100;
  const MAX_QUEUED_EVENTS = 1000;
  const MAX_BACKOFF_MS = 60000;
  const MAX_RETRY_AFTER_MS = 300000;
  const KEEPALIVE_MAX_BYTES = 60000;
  const RESTART_AFTER_PAUSE_MS = 25 * 60 * 1000; // the collector closes views silent for 30 minutes
  const HAVE_FUTURE_DATA = 3;
  const PLAY_CALL_MAX_AGE_MS = 1000; // a play() call older than this at the `play` event was not this one

  /** Where this script was loaded from: the default collector. */
  const SCRIPT_ORIGIN = (function () {
    const script = typeof document !== 'undefined' && document.currentScript;
    return script && script.src ? new URL(script.src, location.href).origin : location.origin;
  })();

  /** A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, version 7, variant 10, 74 random bits. */
  function uuidv7(ms) {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    for (let i = 0; i < 6; i++) bytes[i] = Math.floor(ms / 2 ** (8 * (5 - i))) % 256;
    bytes[6] = 0x70 | (bytes[6] & 0x0f);
    bytes[8] = 0x80 | (bytes[8] & 0x3f);
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** Delay before retry number `attempt` (from 0): the server's Retry-After when given, else 1 s × 2^attempt
   * with jitter, at most MAX_BACKOFF_MS. */
  function retryDelay(attempt, retryAfter) {
    if (retryAfter) {
      const seconds = /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : (Date.parse(retryAfter) - Date.now()) / 1000;
      if (seconds >= 0) return Math.min(seconds * 1000, MAX_RETRY_AFTER_MS);
    }
    return Math.min(1000 * 2 ** attempt, MAX_BACKOFF_MS) * (0.5 + Math.random() / 2);
  }

  /**
   * The queue of batches to one collector, sent one request at a time, oldest first. A batch is sealed
   * once sent; it leaves the queue when the collector answers 2xx, or a 4xx that a retry cannot fix.
   */
  class Sender {
    constructor(url, batchDelayMs) {
      this.url = url;
      this.batchDelayMs = batchDelayMs;
      this.queue = [];
      this.queued = 0;
      this.inFlight = null;
      this.timer = null;
      this.attempt = 0;
      this.leaving = false; // the page is being hidden for good: sendAllNow delivers, not fetch
    }

    push(viewId, dimensions, event, urgent) {
      const now = performance.now();
      if (this.queued >= MAX_QUEUED_EVENTS && !urgent) return; // bounded memory: keep the terminal events
      let batch = this.queue[this.queue.length - 1];
      if (!batch || batch.sealed || batch.viewId !== viewId || batch.events.length >= MAX_BATCH_EVENTS) {
        batch = {viewId, dimensions, events: [], sealed: false, due: now + this.batchDelayMs};
        this.queue.push(batch);
      }
      batch.events.push(event);
      this.queued += 1;
      if (urgent) batch.due = now;
      this.pump();
    }

    pump() {
      if (this.leaving || this.inFlight || this.queue.length === 0) return;
      clearTimeout(this.timer);
      const wait = this.queue[0].due - performance.now();
      if (wait > 0) this.timer = setTimeout(() => this.pump(), wait);
      else this.send(this.queue[0]);
    }

    body(batch) {
      return JSON.stringify({view_id: batch.viewId, dimensions: batch.dimensions, events: batch.events});
    }

    remove(batch) {
      const index = this.queue.indexOf(batch);
      if (index >= 0) {
        this.queue.splice(index, 1);
        this.queued -= batch.events.length;
      }
    }

    async send(batch) {
      batch.sealed = true;
      this.inFlight = batch;
      const body = this.body(batch);
      let retryAfter = null;
      let done = false;
      try {
        // text/plain keeps this a simple cross-origin request: no preflight; the key is in the URL.
        const response = await fetch(this.url, {
          method: 'POST',
          body,
          headers: {'Content-Type': 'text/plain;charset=UTF-8'},
          credentials: 'omit',
          keepalive: body.length < KEEPALIVE_MAX_BYTES,
        });
        const retryable = response.status === 408 || response.status === 429 || response.status >= 500;
        done = !retryable;
        if (retryable) retryAfter = response.headers.get('Retry-After');
        else if (!response.ok) console.warn(`sightline: the collector refused a batch: ${response.status}`);
      } catch (networkError) {
        done = false;
      }
      this.inFlight = null;
      if (done) {
        this.attempt = 0;
        this.remove(batch);
      } else {
        batch.due = performance.now() + retryDelay(this.attempt, retryAfter);
        this.attempt += 1;
      }
      this.pump();
    }

    /** Hand every queued batch to sendBeacon (the one in flight too: a duplicate is dropped by seq), or to a
     * keepalive fetch when the beacon queue is full; both outlive the page. */
    sendAllNow() {
      clearTimeout(this.timer);
      for (const batch of this.queue.slice()) {
        const body = this.body(batch);
        if (!(typeof navigator.sendBeacon === 'function' && navigator.sendBeacon(this.url, body))) {
          fetch(this.url, {method: 'POST', body, headers: {'Content-Type': 'text/plain;charset=UTF-8'}, credentials: 'omit', keepalive: true}).catch(() => {});
        }
        this.remove(batch);
      }
    }
  }

  /** What the page does not say but the SDK knows: player, versions, format, host, screen, viewer. */
  function knownDimensions(video, hls, dash) {
    const source = (hls && hls.url) || (dash && typeof dash.getSource() === 'string' && dash.getSource()) || video.currentSrc;
    const dimensions = {sdkversion: `sightline.js ${VERSION}`, player: 'html5'};
    if (hls) Object.assign(dimensions, {player: 'hls.js', playerversion: String(hls.constructor.version || ''), streamformat: 'hls'});
    if (dash) Object.assign(dimensions, {player: 'dash.js', playerversion: String(dash.getVersion()), streamformat: 'dash'});
    try {
      const url = new URL(source, location.href);
      if (url.protocol === 'http:' || url.protocol === 'https:') {
        dimensions.host = url.hostname;
        if (!hls && !dash) dimensions.streamformat = /\.m3u8$/i.test(url.pathname) ? 'hls' : /\.mpd$/i.test(url.pathname) ? 'dash' : 'mp4';
      }
    } catch (invalidUrl) { /* no source yet: no host */ }
    const ratio = root.devicePixelRatio || 1;
    if (root.screen) dimensions.screen = `${Math.round(screen.width * ratio)}x${Math.round(screen.height * ratio)}`;
    const viewer = viewerId();
    if (viewer) dimensions.viewerid = viewer;
    return dimensions;
  }

  /** An anonymous id of this browser profile, kept in localStorage (empty where storage is refused). */
  function viewerId() {
    try {
      let id = localStorage.getItem('sightline.viewerid');
      if (!id) localStorage.setItem('sightline.viewerid', (id = uuidv7(Date.now())));
      return id;
    } catch (storageRefused) {
      return '';
    }
  }

  /**
   * Watches one media element. Phases of a view: starting (play requested, no frame yet), playing,
   * stalled (rebuffering: `waiting`, or `stalled` without data, after the first frame and outside a
   * seek), seeking (until playback goes on after `seeked`), paused, resuming (play requested after a
   * pause). Play time accrues only while playing, rebuffer time only while stalled.
   */
  class Monitor {
    constructor(video, options) {
      this.video = video;
      this.hls = options.hls || null;
      this.dash = options.dash || null;
      this.dimensions = Object.assign({}, options.dimensions);
      this.heartbeatMs = options.heartbeatMs || HEARTBEAT_MS;
      const base = String(options.collector || SCRIPT_ORIGIN).replace(/\/+$/, '');
      this.sender = new Sender(`${base}/collect?key=${encodeURIComponent(options.ingestKey)}`, options.batchDelayMs ?? BATCH_DELAY_MS);
      this.view = null;
      this.rendition = {kbps: 0};
      this.pendingBytes = 0;
      this.droppedSeen = 0;
      this.listeners = [];
      this.listen(video, {
        play: () => this.onPlay(),
        playing: () => this.onPlaying(),
        waiting: () => this.onStall(),
        stalled: () => video.readyState < HAVE_FUTURE_DATA && this.onStall(),
        seeking: () => this.onSeeking(),
        seeked: () => this.onSeeked(),
        pause: () => this.onPause(),
        ended: () => this.close('end', {}),
        error: () => {
          const error = video.error;
          this.close('error', {fatal: 1, error_code: `MEDIA_ERR_${error ? error.code : 0}`, error_message: (error && error.message) || ''});
        },
      });
      this.wrapPlay(video);
      this.listen(root, {
        pagehide: () => {
          this.sender.leaving = true;
          this.close('exit', {});
          this.sender.sendAllNow();
        },
        pageshow: (event) => {
          if (!event.persisted) return; // back from the back-forward cache: the next play starts a new view
          this.sender.leaving = false;
          this.sender.pump();
        },
      });
      this.listen(document, {visibilitychange: () => document.visibilityState === 'hidden' && this.sender.sendAllNow()});
      if (this.hls) this.watchHls(this.hls);
      if (this.dash) this.watchDash(this.dash);
    }

    listen(target, handlers) {
      for (const [type, handler] of Object.entries(handlers)) {
        target.addEventListener(type, handler);
        this.listeners.push(() => target.removeEventListener(type, handler));
      }
    }

    /** The play request's time is the page's play() call when there is one: the `play` event comes a task
     * later (tens of ms on a busy page). Autoplay and the native controls have only the event. */
    wrapPlay(video) {
      const watching = this;
      const play = function () {
        watching.playCalled = {at: performance.now(), ms: Date.now()};
        return HTMLMediaElement.prototype.play.apply(this, arguments);
      };
      video.play = play;
      this.listeners.push(() => video.play === play && delete video.play);
    }

    /** When the play request happened: the pending play() call, or now. */
    takePlayRequest() {
      const called = this.playCalled;
      this.playCalled = null;
      const now = {at: performance.now(), ms: Date.now()};
      return called && now.at - called.at < PLAY_CALL_MAX_AGE_MS ? called : now;
    }

    watchHls(hls) {
      const on = (type, handler) => {
        hls.on(type, handler);
        this.listeners.push(() => hls.off(type, handler));
      };
      on('hlsLevelSwitched', (_, data) => {
        const level = hls.levels[data.level];
        if (level) this.setRendition(level.bitrate, level.width, level.height, level.frameRate, level.videoCodec);
      });
      on('hlsFragLoaded', (_, data) => {
        const stats = (data.part || data.frag).stats;
        this.pendingBytes += (stats && stats.loaded) || 0;
      });
      on('hlsError', (_, data) => {
        if (data.fatal) this.fatal(`${data.type}:${data.details}`, (data.error && data.error.message) || '');
      });
    }

    watchDash(dash) {
      const on = (type, handler) => {
        dash.on(type, handler);
        this.listeners.push(() => dash.off(type, handler));
      };
      on('qualityChangeRendered', (e) => {
        const rep = e.newRepresentation;
        if (e.mediaType === 'video' && rep) this.setRendition(rep.bandwidth, rep.width, rep.height, rep.frameRate, rep.codecs);
      });
      on('fragmentLoadingCompleted', (e) => {
        this.pendingBytes += (e.request && e.request.bytesLoaded) || (e.response && e.response.byteLength) || 0;
      });
      on('error', (e) => {
        const error = e.error || {};
        this.fatal(`dash:${error.code}`, error.message || '');
      });
      // dash.js's own end of the last period: when it sees the end first it seeks there, and Chromium
      // then may never fire the element's `ended`
      on('playbackEnded', (e) => e.isLast && this.close('end', {}));
    }

    // --- the view ------------------------------------------------------------------------------------

    isOpen() {
      return this.view !== null && !this.view.closed;
    }

    startView() {
      const request = this.takePlayRequest();
      const dimensions = Object.assign(knownDimensions(this.video, this.hls, this.dash), this.dimensions);
      this.view = {
        id: uuidv7(request.ms), dimensions, seq: 0, started: false, closed: false, phase: 'starting',
        requestedAt: request.at, markedAt: request.at, pausedAt: 0, playMs: 0, rebufferMs: 0,
      };
      this.emit('play_request', {ts: request.ms});
      this.heartbeat = setInterval(() => this.view.phase !== 'paused' && this.emit('heartbeat', this.liveLatency()), this.heartbeatMs);
    }

    /** Move the view's clock to now: time since the last mark is play time or rebuffer time by phase. */
    accrue() {
      const now = performance.now();
      const view = this.view;
      if (view.phase === 'playing') view.playMs += now - view.markedAt;
      else if (view.phase === 'stalled') view.rebufferMs += now - view.markedAt;
      view.markedAt = now;
    }

    setPhase(phase) {
      this.accrue();
      this.view.phase = phase;
    }

    /** Queue an event of the open view, carrying the deltas measured since its previous event. */
    emit(type, fields) {
      const view = this.view;
      this.accrue();
      const event = Object.assign({event: type, ts: Date.now(), seq: view.seq++, started: view.started ? 1 : 0}, fields);
      const playMs = Math.floor(view.playMs);
      const rebufferMs = Math.floor(view.rebufferMs);
      view.playMs -= playMs;
      view.rebufferMs -= rebufferMs;
      if (playMs > 0) {
        event.play_ms = playMs;
        if (this.rendition.kbps > 0) event.interval_bitrate_kbps = this.rendition.kbps;
      }
      if (rebufferMs > 0) event.rebuffer_ms = rebufferMs;
      if (this.pendingBytes > 0) event.bytes = this.pendingBytes;
      this.pendingBytes = 0;
      const dropped = this.droppedFrames();
      if (dropped > 0) event.dropped_frames = dropped;
      const urgent = view.closed || type === 'first_frame';
      this.sender.push(view.id, view.dimensions, event, urgent);
    }

    droppedFrames() {
      const quality = this.video.getVideoPlaybackQuality && this.video.getVideoPlaybackQuality();
      const total = quality ? quality.droppedVideoFrames : 0;
      const delta = total >= this.droppedSeen ? total - this.droppedSeen : total; // a new source restarts the count
      this.droppedSeen = total;
      return delta;
    }

    /** On heartbeats of live hls.js streams: the distance from the live edge. */
    liveLatency() {
      const level = this.hls && this.hls.levels[this.hls.currentLevel];
      const latency = level && level.details && level.details.live ? this.hls.latency : 0;
      return latency > 0 ? {live_latency_ms: Math.round(latency * 1000)} : {};
    }

    /** End the open view with its terminal event (`end`, `exit`, or a fatal `error`). */
    close(type, fields) {
      if (!this.isOpen()) return;
      this.accrue();
      this.view.closed = true;
      clearInterval(this.heartbeat);
      this.emit(type, fields);
    }

    fatal(code, message) {
      this.close('error', {fatal: 1, error_code: String(code).slice(0, 512), error_message: String(message).slice(0, 512)});
    }

    /** A new bitrate from the player. The one in effect at the first frame is the view's initial rendition,
     * not a switch: rendition_change is sent only for changes after it (as the simulator has it). */
    setRendition(bitrate, width, height, fps, codec) {
      const kbps = Math.round((bitrate || 0) / 1000);
      if (kbps === this.rendition.kbps) return;
      if (this.isOpen() && this.view.started && this.rendition.kbps > 0) {
        // the play time so far was at the old bitrate: the rendition_change carries it
        const fields = {rendition_bitrate_kbps: kbps, rendition_width: width || 0, rendition_height: height || 0, rendition_fps: fps || 0, rendition_codec: codec || ''};
        this.emit('rendition_change', fields);
      }
      this.rendition = {kbps};
    }

    // --- media element events ------------------------------------------------------------------------

    onPlay() {
      const view = this.view;
      if (this.isOpen() && view.phase === 'paused' && performance.now() - view.pausedAt > RESTART_AFTER_PAUSE_MS) {
        this.close('exit', {});
      }
      if (!this.isOpen()) {
        this.startView();
      } else if (this.view.phase === 'paused') {
        this.playCalled = null;
        this.setPhase('resuming');
        this.emit('resume', {});
      }
    }

    onPlaying() {
      if (!this.isOpen()) return;
      const view = this.view;
      if (!view.started) {
        view.started = true;
        this.setPhase('playing');
        this.emit('first_frame', {startup_ms: Math.round(performance.now() - view.requestedAt)});
      } else if (view.phase === 'stalled' || view.phase === 'seeking') {
        const ending = view.phase === 'stalled' ? 'stall_end' : 'seek_end';
        this.setPhase('playing');
        this.emit(ending, {});
      } else {
        this.setPhase('playing');
      }
    }

    onStall() {
      const phase = this.isOpen() && this.view.started ? this.view.phase : null;
      if (phase === 'playing' || phase === 'resuming') {
        this.setPhase('stalled');
        this.emit('stall_start', {});
      }
    }

    onSeeking() {
      if (this.isOpen() && this.view.started && this.view.phase !== 'seeking') {
        this.setPhase('seeking');
        this.emit('seek_start', {});
      }
    }

    onSeeked() {
      if (!this.isOpen() || this.view.phase !== 'seeking') return;
      if (this.video.paused) {
        this.setPhase('paused');
        this.view.pausedAt = performance.now();
        this.emit('seek_end', {});
      } else if (this.video.readyState >= HAVE_FUTURE_DATA) {
        this.setPhase('playing');
        this.emit('seek_end', {});
      } // else playback goes on at the next `playing`, which ends the seek
    }

    onPause() {
      if (!this.isOpen() || this.video.ended || this.view.phase === 'paused') return; // `ended` follows
      this.setPhase('paused');
      this.view.pausedAt = performance.now();
      this.emit('pause', {});
    }

    // --- the public face -----------------------------------------------------------------------------

    api() {
      const watching = this;
      return {
        /** The current (or last) view's id; null before the first play request. */
        get viewId() { return watching.view ? watching.view.id : null; },
        /** Dimensions for the next views (a view's dimensions are fixed at its play request). */
        setDimensions(dimensions) { Object.assign(watching.dimensions, dimensions); },
        /** Report an error of the application; a fatal one ends the view. */
        error(code, message, fatal = true) {
          if (fatal) watching.fatal(code, message || '');
          else if (watching.isOpen()) watching.emit('error', {fatal: 0, error_code: String(code).slice(0, 512), error_message: String(message || '').slice(0, 512)});
        },
        /** End the view now (the viewer left, or the page switches content). */
        exit() { watching.close('exit', {}); },
        /** End the view and stop watching. */
        destroy() {
          watching.close('exit', {});
          for (const remove of watching.listeners) remove();
          watching.listeners = [];
        },
      };
    }
  }

  /**
   * Watch `video` and report its views. Options: `ingestKey` (required), `collector` (base URL of the
   * Sightline service; default: where this script came from), `dimensions` (the view's dimensions, fixed
   * at each play request), `hls` (an hls.js instance), `dash` (a dash.js MediaPlayer), `heartbeatMs`
   * (10000), `batchDelayMs` (2000: longest an event waits to share a request).
   */
  function monitor(video, options) {
    if (!video || typeof video.play !== 'function') throw new TypeError('Sightline.monitor: the first argument must be a <video> or <audio> element');
    if (!options || typeof options.ingestKey !== 'string' || !options.ingestKey) throw new TypeError('Sightline.monitor: options.ingestKey is required');
    return new Monitor(video, options).api();
  }

  root.Sightline = Object.freeze({version: VERSION, monitor, uuidv7});
})(typeof window !== 'undefined' ? window : globalThis);
