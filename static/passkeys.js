// Passkeys (WebAuthn): add one on /account/mfa/, use one at the login's second step.
// The server sends py_webauthn's JSON options (base64url strings); the browser API wants
// ArrayBuffers, and the answer goes back as JSON with base64url strings again.
(function () {
  "use strict";

  function fromB64url(text) {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    const raw = atob(b64);
    const out = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out.buffer;
  }

  function toB64url(buffer) {
    const bytes = new Uint8Array(buffer);
    let raw = "";
    for (let i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map((item) => Object.assign({}, item, { id: fromB64url(item.id) }));
  }

  async function post(form, url, body) {
    const token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token, Accept: "application/json" },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try {
      data = await response.json();
    } catch (_) {
      data = { error: `The server answered ${response.status}.` };
    }
    if (!response.ok) {
      const error = new Error(data.error || `The server answered ${response.status}.`);
      error.redirect = data.redirect;
      throw error;
    }
    return data;
  }

  function show(form, message) {
    const box = form.querySelector("#passkey-error");
    box.textContent = message;
    box.hidden = !message;
  }

  function browserMessage(error) {
    if (error && error.name === "NotAllowedError") return "The passkey request was cancelled or timed out.";
    if (error && error.name === "InvalidStateError") return "This passkey is already registered.";
    return (error && error.message) || "The passkey did not work.";
  }

  function supported(form) {
    if (window.PublicKeyCredential && navigator.credentials) return true;
    show(form, "This browser cannot use passkeys (they need HTTPS, or localhost).");
    return false;
  }

  // A credential as py_webauthn reads it: the fields both ceremonies share, and `fields` of the
  // ceremony's own response (attestation for a new passkey, signature for a login).
  function credentialJSON(credential, fields) {
    return {
      id: credential.id,
      rawId: toB64url(credential.rawId),
      type: credential.type,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      response: { clientDataJSON: toB64url(credential.response.clientDataJSON), ...fields },
    };
  }

  async function register(form) {
    const name = form.querySelector("#passkey-name").value.trim();
    if (!name) return show(form, "Give the passkey a name, such as the device it lives on.");
    const options = await post(form, form.dataset.optionsUrl);
    options.challenge = fromB64url(options.challenge);
    options.user.id = fromB64url(options.user.id);
    options.excludeCredentials = descriptors(options.excludeCredentials);
    const credential = await navigator.credentials.create({ publicKey: options });
    const response = credential.response;
    const body = {
      name: name,
      credential: credentialJSON(credential, {
        attestationObject: toB64url(response.attestationObject),
        transports: response.getTransports ? response.getTransports() : [],
      }),
    };
    const done = await post(form, form.dataset.registerUrl, body);
    window.location.assign(done.redirect);
  }

  async function authenticate(form) {
    const options = await post(form, form.dataset.optionsUrl);
    options.challenge = fromB64url(options.challenge);
    options.allowCredentials = descriptors(options.allowCredentials);
    const credential = await navigator.credentials.get({ publicKey: options });
    const response = credential.response;
    const body = {
      credential: credentialJSON(credential, {
        authenticatorData: toB64url(response.authenticatorData),
        signature: toB64url(response.signature),
        userHandle: response.userHandle ? toB64url(response.userHandle) : undefined,
      }),
    };
    const done = await post(form, form.dataset.loginUrl, body);
    window.location.assign(done.redirect);
  }

  function wire(id, action) {
    const form = document.getElementById(id);
    if (!form) return;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!supported(form)) return;
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      show(form, "");
      try {
        await action(form);
      } catch (error) {
        if (error.redirect) {
          window.location.assign(error.redirect);
          return;
        }
        show(form, browserMessage(error));
      } finally {
        button.disabled = false;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    wire("passkey-add", register);
    wire("passkey-login", authenticate);
  });
})();
