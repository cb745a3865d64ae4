// The console's only script: ask before a form marked data-confirm does something that cannot
// be undone. Without JavaScript the forms work, without the question.
document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) event.preventDefault();
});
