// The signed-in session: the OAuth2 password grant, a refresh grant before the access token expires, and
// revocation at logout. Tokens live in the tab's sessionStorage, never in the URL.

const STORAGE_KEY = "sightline.session";

export class SignedOutError extends Error {}

export class LoginError extends Error {}

async function tokenRequest(path, fields) {
  return fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields),
  });
}

/** When to refresh a token that lives `expiresIn` seconds: a minute before it expires, or sooner for short lives. */
const refreshAfterMs = (expiresIn) => expiresIn * 1000 - Math.min(60000, (expiresIn * 1000) / 3);

export class Session {
  constructor(onSignedOut) {
    this.onSignedOut = onSignedOut;
    this.data = JSON.parse(sessionStorage.getItem(STORAGE_KEY) || "null");
    this.refreshing = null;
    this.timer = null;
    if (this.data) this.schedule();
  }

  get signedIn() {
    return this.data !== null;
  }

  get username() {
    return this.data?.username ?? "";
  }

  store(answer, username) {
    const now = Date.now();
    this.data = {
      access: answer.access_token,
      refresh: answer.refresh_token,
      refreshAt: now + refreshAfterMs(answer.expires_in),
      expiresAt: now + answer.expires_in * 1000,
      username,
    };
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(this.data));
    this.schedule();
  }

  schedule() {
    clearTimeout(this.timer);
    const wait = Math.max(1000, this.data.refreshAt - Date.now());
    this.timer = setTimeout(() => this.refresh().catch(() => {}), wait);
  }

  async login(username, password) {
    const response = await tokenRequest("/oauth/token", { grant_type: "password", username, password });
    if (response.status === 201) {
      this.store(await response.json(), username);
      return;
    }
    const body = await response.json().catch(() => ({}));
    if (response.status === 429) {
      const wait = response.headers.get("Retry-After");
      throw new LoginError(`Too many failed sign-ins. Try again in ${wait ?? "a few"} seconds.`);
    }
    if (body?.error?.code === "invalid_grant") throw new LoginError("Wrong username or password.");
    throw new LoginError(body?.error?.message ?? `Sign-in failed (${response.status}).`);
  }

  /** A fresh pair for the refresh token, once at a time; a refused refresh ends the session. */
  refresh() {
    if (!this.data) return Promise.reject(new SignedOutError("signed out"));
    if (!this.refreshing) {
      const { refresh, username } = this.data;
      this.refreshing = tokenRequest("/oauth/token", { grant_type: "refresh_token", refresh_token: refresh })
        .then(async (response) => {
          if (response.status !== 201) {
            this.end("Your session has ended. Sign in again.");
            throw new SignedOutError("the refresh token was refused");
          }
          this.store(await response.json(), username);
        })
        .finally(() => {
          this.refreshing = null;
        });
    }
    return this.refreshing;
  }

  async accessToken() {
    if (!this.data) throw new SignedOutError("signed out");
    if (Date.now() >= this.data.refreshAt) await this.refresh();
    return this.data.access;
  }

  /** Revoke the login (its every token) and forget it. */
  async logout() {
    const token = this.data?.refresh;
    this.clear();
    if (token) await tokenRequest("/oauth/revoke", { token, token_type_hint: "refresh_token" });
  }

  clear() {
    clearTimeout(this.timer);
    this.data = null;
    sessionStorage.removeItem(STORAGE_KEY);
  }

  end(message) {
    this.clear();
    this.onSignedOut(message);
  }
}
