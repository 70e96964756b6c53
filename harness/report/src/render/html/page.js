// fleetgate report: filters the cases table. Records any script error on <html> so that a
// headless browser check can see it; marks the page ready when the script ran to its end.
(function () {
  'use strict';
  var root = document.documentElement;
  window.addEventListener('error', function (event) {
    root.setAttribute('data-script-error', String(event.message));
  });
  var input = document.getElementById('case-filter');
  var select = document.getElementById('verdict-filter');
  var shown = document.getElementById('cases-shown');
  var rows = Array.prototype.slice.call(document.querySelectorAll('#cases tbody tr'));
  function apply() {
    var text = input ? input.value.trim().toLowerCase() : '';
    var verdict = select ? select.value : '';
    var visible = 0;
    rows.forEach(function (row) {
      var keep = (!verdict || row.getAttribute('data-verdict') === verdict) &&
        (!text || row.getAttribute('data-text').indexOf(text) >= 0);
      row.hidden = !keep;
      if (keep) { visible += 1; }
    });
    if (shown) { shown.textContent = visible + ' of ' + rows.length + ' cases shown'; }
  }
  if (input) { input.addEventListener('input', apply); }
  if (select) { select.addEventListener('change', apply); }
  var wanted = /^#verdict=(passed|failed|skipped)$/.exec(window.location.hash);
  if (wanted && select) { select.value = wanted[1]; }
  apply();
  root.setAttribute('data-script', 'ready');
}());
