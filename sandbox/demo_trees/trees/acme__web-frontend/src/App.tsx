import { Route, Routes } from "react-router-dom";

import CommentList from "./components/CommentList";
import ReportBuilder from "./pages/ReportBuilder";
import { currentUser } from "./auth/session";

export default function App() {
  const user = currentUser();
  return (
    <main className="app">
      <header>
        <h1>Acme Payments</h1>
        {user && <span className="user">{user.email}</span>}
      </header>
      <Routes>
        <Route path="/disputes/:id" element={<CommentList />} />
        <Route path="/reports" element={<ReportBuilder />} />
      </Routes>
    </main>
  );
}
