/* The test pages' own measurement of a playback, independent of the integration under test:
 * startup = the play() call to the first `playing` event; `ended` once the video played to its end.
 * Exposed as window.playback = {startupMs, ended, errors}; call measurePlayback(video) to start playing. */
window.playback = {startupMs: null, ended: false, errors: []};

window.measurePlayback = function (video) {
  let requestedAt = null;
  video.addEventListener('playing', () => {
    if (window.playback.startupMs === null) window.playback.startupMs = performance.now() - requestedAt;
  });
  video.addEventListener('ended', () => { window.playback.ended = true; });
  video.addEventListener('error', () => window.playback.errors.push(`media error ${video.error && video.error.code}`));
  requestedAt = performance.now();
  const started = video.play();
  if (started) started.catch((error) => window.playback.errors.push(`play(): ${error}`));
};
