/* Clinica's one script of its own. Every page works without it (and without htmx); it only tells
   keyboard and screen-reader users what htmx has just changed on the page.

   A list of free times (a container marked data-swap-heading) says in its heading what it shows
   now. Replaced because a link was followed or its form sent ("Next day", a day of the month,
   "Show free times", Enter in the day's field), the focus moves to that heading: a screen reader
   reads it out, and a phone scrolls the list into view; the link or button pressed is gone anyway.
   Replaced because a select changed, the focus stays on the select, and the heading is read out
   through the page's status region.

   A month view's arrow ("Next month ›") swaps in the whole month (and, on the booking page, the
   day's times beside it): the focus stays on the arrow (htmx finds its id again; past the last
   month, the words that are no longer a link) and in view, and the new month's name, with the day
   now shown beside it, is read out through the status region.

   The desk's "Why not?" form on a move's picker takes along the reason as typed now (without this
   script, as it was when the picker was last drawn), for the explainer's "Back to moving it". */
(function () {
  "use strict";
  // The month beside a day's times marks that day (the page comes marked; another day's times,
  // swapped in, move the mark).
  function markShownDay(isoDate) {
    var month = document.getElementById("month");
    if (!month || !isoDate) {
      return;
    }
    var marked = month.querySelector("td.day-shown");
    if (marked) {
      marked.classList.remove("day-shown");
      marked.removeAttribute("aria-current");
    }
    var cell = month.querySelector('td[data-date="' + isoDate + '"]');
    if (cell) {
      cell.classList.add("day-shown");
      cell.setAttribute("aria-current", "true");
    }
  }

  document.addEventListener("submit", function (event) {
    var carried = event.target.matches("form.why-not") ? event.target.querySelector('input[name="reason"]') : null;
    var typed = document.getElementById("reason");
    if (carried && typed) {
      carried.value = typed.value;
    }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    var pressed = (event.detail.requestConfig || {}).elt;
    if (event.target.id === "month" && pressed && /^month-(prev|next)$/.test(pressed.id)) {
      var said = [document.getElementById("month-heading"),
        event.target.hasAttribute("data-with-day") ? document.querySelector("#slots h2") : null];
      document.getElementById("swap-status").textContent = said.filter(Boolean).map(function (heading) {
        return heading.textContent.trim();
      }).join(". ");
      // The day's times above it may have grown (a phone stacks the two): the month just asked
      // for, and the arrow with the focus, stay in view.
      event.target.scrollIntoView({block: "nearest"});
      if (document.activeElement && document.activeElement.id === pressed.id) {
        document.activeElement.scrollIntoView({block: "nearest"});  // (a month taller than the screen)
      }
      return;
    }
    if (event.target !== target) {
      return;  // also fired for each part swapped out of band (the month beside the day)
    }
    var heading = target && target.hasAttribute("data-swap-heading") ? target.querySelector("h2") : null;
    if (!heading) {
      return;
    }
    markShownDay(heading.getAttribute("data-day"));
    var request = event.detail.requestConfig || {};
    var followed = request.elt && request.elt.tagName === "A";
    var sent = (request.triggeringEvent && request.triggeringEvent.type === "submit") ||
      (request.elt && request.elt.tagName === "BUTTON");
    if (followed || sent) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    } else {
      document.getElementById("swap-status").textContent = heading.textContent.trim();
    }
  });
})();
