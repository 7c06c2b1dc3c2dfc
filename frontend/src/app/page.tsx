"use client";

import { useRouter } from "next/navigation";
import { useEffect } from "react";
import { useSignedIn } from "./providers";
import { landing } from "@/lib/landing";

export default function Home() {
  const session = useSignedIn();
  const router = useRouter();
  useEffect(() => {
    if (session) router.replace(landing(session.roles));
  }, [session, router]);
  return <p>Loading…</p>;
}
