// The API key of this browser tab: sessionStorage only (never localStorage or a cookie), so that
// it is gone when the tab closes and no other tab or later visit can read it.
const STORAGE_NAME = "simusage.apiKey";

export function currentKey() {
  try {
    return sessionStorage.getItem(STORAGE_NAME);
  } catch {
    return null; // storage disabled: the page still works with access control off
  }
}

export function rememberKey(key) {
  sessionStorage.setItem(STORAGE_NAME, key);
}

export function forgetKey() {
  try {
    sessionStorage.removeItem(STORAGE_NAME);
  } catch {
    // nothing was stored
  }
}
