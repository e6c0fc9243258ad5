import capitalize from "lodash/capitalize";

export function formatCents(cents: number, currency = "USD"): string {
  return new Intl.NumberFormat("en-US", { style: "currency", currency }).format(cents / 100);
}

export function formatAuthor(author: string): string {
  return author
    .split(" ")
    .map((part) => capitalize(part))
    .join(" ");
}
