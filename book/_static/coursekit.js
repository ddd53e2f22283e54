// coursekit's script on every page of the book (_config.yml: html_js_files).
// coursekit.css wraps the parameters cell's long comments with a hanging indent; here
// the indent is set to the column where that cell's comments start, which differs
// from chapter to chapter (23 to 29), so wrapped words sit under their comment.
document.addEventListener("DOMContentLoaded", () => {
  for (const pre of document.querySelectorAll("div.tag_parameters div.cell_input pre")) {
    const columns = pre.textContent.split("\n")
      .map((line) => line.indexOf("  #"))
      .filter((column) => column > 0);
    if (columns.length > 0) {
      pre.style.textIndent = `${Math.min(...columns) + 2}ch hanging each-line`;
    }
  }
});
