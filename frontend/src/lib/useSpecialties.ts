"use client";

import { read, type Api } from "@/api/client";
import type { SpecialtyConfig, Tenant } from "@/api/types";
import { useLoaded } from "./useLoaded";

/** The UI configuration of every plugin the tenant has enabled (GET /v1/specialties/{name}/config). */
export function useSpecialties(api: Api | undefined, tenant: Tenant | null): SpecialtyConfig[] {
  const names = tenant?.specialties ?? [];
  const { data } = useLoaded<SpecialtyConfig[]>(api && tenant ? names.join(",") : null, () =>
    Promise.all(
      names.map((name) =>
        read<SpecialtyConfig>(() => api!.GET("/v1/specialties/{name}/config", { params: { path: { name } } })),
      ),
    ),
  );
  return data ?? [];
}
