import type { Metadata, Viewport } from "next";
import { connection } from "next/server";
import type { ReactNode } from "react";
import { Providers } from "./providers";
import "./globals.css";

export const metadata: Metadata = {
  title: "Caretrail",
  description: "The front desk, the visit and the bill, over the Caretrail API",
};

export const viewport: Viewport = { width: "device-width", initialScale: 1 };

/**
 * Where the API is comes from the server's environment at request time (CARETRAIL_API_URL),
 * not from the build, so one build serves any deployment; it is an address, not a secret.
 */
export default async function RootLayout({ children }: { children: ReactNode }) {
  await connection();
  const apiUrl = process.env.CARETRAIL_API_URL ?? "http://127.0.0.1:8000";
  const identityProvider = process.env.CARETRAIL_IDP_URL ?? null;
  return (
    <html lang="en">
      <body>
        <Providers apiUrl={apiUrl} identityProvider={identityProvider}>
          {children}
        </Providers>
      </body>
    </html>
  );
}
