// Legacy search widget still embedded on the marketing site.
import debounce from "lodash/debounce";

export function mountSearch(input, resultsElement) {
  const render = (results, query) => {
    if (results.length === 0) {
      resultsElement.innerHTML = "<p>No payments match <em>" + query + "</em></p>";
      return;
    }
    resultsElement.textContent = "";
    for (const item of results) {
      const row = document.createElement("li");
      row.textContent = `${item.description} (${item.amount})`;
      resultsElement.appendChild(row);
    }
  };

  input.addEventListener(
    "input",
    debounce(async () => {
      const query = input.value.trim();
      const response = await fetch(`/api/payments/search?q=${encodeURIComponent(query)}`);
      render(await response.json(), query);
    }, 250),
  );
}
