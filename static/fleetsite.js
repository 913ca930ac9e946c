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
