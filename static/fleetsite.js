// Small progressive enhancements; every page works without them.
document.addEventListener("click", (event) => {
  const target = event.target;
  if (target.matches("[data-select-all]")) {
    document.querySelectorAll('input[name="ids"]').forEach((box) => { box.checked = target.checked; });
  }
  if (target.matches("[data-copy]")) {
    const source = document.getElementById(target.dataset.copy);
    const text = source.dataset.value || source.textContent;
    navigator.clipboard.writeText(text.trim()).then(() => {
      const label = target.textContent;
      target.textContent = "Copied";
      setTimeout(() => { target.textContent = label; }, 1500);
    });
  }
  if (target.matches("[data-reveal]")) {
    const source = document.getElementById(target.dataset.reveal);
    const hidden = source.dataset.hidden !== "false";
    source.textContent = hidden ? source.dataset.value : "•".repeat(12);
    source.dataset.hidden = hidden ? "false" : "true";
    target.textContent = hidden ? "Hide" : "Reveal";
  }
});
// A button (or form) with data-confirm asks first, naming what will happen; small in-place actions use
// it, bigger ones (deletes, bulk actions) have their own confirmation page.
document.addEventListener("submit", (event) => {
  const asking = [event.submitter, event.target].find((el) => el && el.dataset && el.dataset.confirm);
  if (asking && !window.confirm(asking.dataset.confirm)) {
    event.preventDefault();
  }
});
// A select marked data-autosubmit submits its form when changed (no inline onchange: the CSP forbids it).
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-autosubmit]")) {
    event.target.form.submit();
  }
});
// The CSV export link follows the filters as they change.
document.addEventListener("htmx:pushedIntoHistory", () => {
  document.querySelectorAll("[data-export]").forEach((a) => {
    a.href = a.href.split("?")[0] + window.location.search;
  });
});
// A list's address names exactly the filters set: empty fields (and those at their `data-default`) are left out of the request (and so
// of the pushed URL) instead of piling up as `name=` pairs.
document.addEventListener("htmx:configRequest", (event) => {
  if (event.detail.verb !== "get" || !event.detail.elt.matches("form.filters")) {
    return;
  }
  const params = event.detail.parameters;
  const form = event.detail.elt;
  // The sort is set by the column headers, which swap only the results: the address is its truth.
  const current = new URLSearchParams(window.location.search);
  for (const name of ["order_key", "order_direction"]) {
    if (current.get(name)) {
      params[name] = current.get(name);
    }
  }
  for (const name of [...Object.keys(params)]) {
    const field = form.elements.namedItem(name);
    const isDefault = field && field.dataset && field.dataset.default === params[name];
    if (params[name] === "" || isDefault) {
      delete params[name];
    }
  }
});
// An htmx request that fails (a 4xx/5xx htmx will not swap, or no answer at all) says why, next to
// what the user used, in words: Fleet's error body gives the reason; otherwise the status does.
const READABLE_STATUS = {
  400: "The request was not understood.",
  403: "Your role does not allow this.",
  404: "This no longer exists, or you cannot see it.",
  409: "This conflicts with something that already exists.",
  413: "That is too large.",
  422: "Some of what you entered is not valid.",
  429: "Too many requests: wait a moment and try again.",
};

function readableError(xhr) {
  if (!xhr || xhr.status === 0) {
    return "The server did not answer: check your connection and try again.";
  }
  try {
    const body = JSON.parse(xhr.responseText);
    const reason = body.errors && body.errors.length ? body.errors[0].reason : "";
    if (reason || body.message) {
      return reason || body.message;
    }
  } catch (error) {
    // Not JSON: an HTML error page; the status says enough.
  }
  return READABLE_STATUS[xhr.status] || `Something went wrong on the server (${xhr.status}). Try again later.`;
}

function showRequestError(event) {
  const origin = event.detail.elt;
  const anchor = (origin.closest && origin.closest("form, section, .card, td")) || origin;
  let box = anchor.parentNode && anchor.parentNode.querySelector(":scope > [data-request-error]");
  if (!box) {
    box = document.createElement("p");
    box.className = "message error";
    box.setAttribute("role", "alert");
    box.dataset.requestError = "";
    anchor.before(box);
  }
  box.textContent = readableError(event.detail.xhr);
}

document.addEventListener("htmx:responseError", showRequestError);
document.addEventListener("htmx:sendError", showRequestError);

// One timestamp format (the `when` template filter): relative text in a <time>; its tooltip shows the
// exact time in the reader's own time zone (the server writes UTC there for readers without scripts).
function localTimes(root) {
  const format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium", timeZoneName: "short" });
  root.querySelectorAll("time[datetime]").forEach((element) => {
    const moment = new Date(element.getAttribute("datetime"));
    if (!Number.isNaN(moment.getTime())) element.title = format.format(moment);
  });
}
document.addEventListener("DOMContentLoaded", () => localTimes(document));
document.addEventListener("htmx:afterSettle", (event) => localTimes(event.target));
