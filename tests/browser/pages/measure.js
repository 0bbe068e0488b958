/* The test pages' own measurement of a playback, independent of the integration under test:
 * startup = the play() call to the first `playing` event; stalls = `waiting` after it (outside seeks) to the
 * next `playing`; play time = the wall-clock time from each `playing` to the next `waiting`, `pause` or `ended`
 * (a starved machine plays a 10 s clip for longer); `ended` once the video played to its end.
 * Exposed as window.playback = {startupMs, stalls, stallMs, playMs, ended, errors}. watchPlayback(video, requestedAt)
 * measures a playback requested at `requestedAt` (performance.now()) and returns a function that ends it (for a player
 * that sees the end before the element does); measurePlayback(video) requests it with play() and returns the same. */
window.playback = {startupMs: null, stalls: 0, stallMs: 0, playMs: 0, ended: false, errors: []};

window.watchPlayback = function (video, requestedAt) {
  const playback = window.playback;
  let stalledAt = null;
  let playingAt = null;
  const stopPlaying = () => {
    if (playingAt !== null) playback.playMs += performance.now() - playingAt;
    playingAt = null;
  };
  video.addEventListener('playing', () => {
    if (playback.startupMs === null) playback.startupMs = performance.now() - requestedAt;
    if (stalledAt !== null) playback.stallMs += performance.now() - stalledAt;
    stalledAt = null;
    if (playingAt === null) playingAt = performance.now();
  });
  video.addEventListener('waiting', () => {
    stopPlaying();
    if (playback.startupMs !== null && !video.seeking && stalledAt === null) {
      stalledAt = performance.now();
      playback.stalls += 1;
    }
  });
  video.addEventListener('pause', stopPlaying);
  const end = () => { stopPlaying(); playback.ended = true; };
  video.addEventListener('ended', end);
  video.addEventListener('error', () => playback.errors.push(`media error ${video.error && video.error.code}`));
  return end;
};

window.measurePlayback = function (video) {
  const end = window.watchPlayback(video, performance.now());
  const started = video.play();
  if (started) started.catch((error) => window.playback.errors.push(`play(): ${error}`));
  return end;
};
