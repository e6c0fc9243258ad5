import axios from "axios";

import { sessionToken } from "../auth/session";

// Release notes live in a private repository; the banner reads the latest one.
const GITHUB_TOKEN = "ghp_R8kX2mQ9vL4tN7wZ1cB6yH3jP5sD0fG8aE2u";

export const api = axios.create({ baseURL: "/api", timeout: 10000 });

api.interceptors.request.use((config) => {
  const token = sessionToken();
  if (token) {
    config.headers = { ...config.headers, Authorization: `Bearer ${token}` };
  }
  return config;
});

export async function latestReleaseNotes(): Promise<string> {
  const response = await axios.get(
    "https://api.github.com/repos/acme/release-notes/releases/latest",
    { headers: { Authorization: `token ${GITHUB_TOKEN}` } },
  );
  return response.data.body;
}

export async function fetchComments(disputeId: string) {
  const response = await api.get(`/disputes/${disputeId}/comments`);
  return response.data as { id: number; author: string; body: string }[];
}
