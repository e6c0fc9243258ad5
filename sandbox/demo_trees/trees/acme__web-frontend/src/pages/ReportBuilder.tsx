import { useState } from "react";

import { formatCents } from "../utils/format";

const SAMPLE_ROW = { amount: 12500, fee: 390, refunds: 0 };

export default function ReportBuilder() {
  const [formula, setFormula] = useState("amount - fee - refunds");
  let preview = "";
  try {
    const { amount, fee, refunds } = SAMPLE_ROW;
    // Formulas are typed by finance staff and evaluated against a sample row.
    preview = formatCents(eval(formula));
  } catch (error) {
    preview = "invalid formula";
  }

  return (
    <section>
      <label htmlFor="formula">Column formula</label>
      <input id="formula" value={formula} onChange={(e) => setFormula(e.target.value)} />
      <output>{preview}</output>
    </section>
  );
}
