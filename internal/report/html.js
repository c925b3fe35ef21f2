// Expand all / Collapse all: one click instead of one per cell. The page
// works without this script (a CI viewer may refuse to run it); the
// buttons show only when it runs.
for (const button of document.querySelectorAll("button[data-open]")) {
  button.hidden = false;
  button.addEventListener("click", () => {
    const view = document.getElementById("view-groups").checked ? ".groups-view" : ".grid-view";
    const open = button.dataset.open === "1";
    for (const d of document.querySelectorAll(view + " details.cell")) {
      d.open = open;
    }
  });
}
