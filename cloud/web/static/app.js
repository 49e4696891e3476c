// The few behaviours the pages need beyond htmx. A file, never inline: the CSP forbids that.
// Forms with data-confirm ask before they are sent (cancel an order, disable a user).
document.addEventListener("submit", (ev) => {
  const form = ev.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    ev.preventDefault();
  }
});
