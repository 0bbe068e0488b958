// The portal's pages: what each shows, which plan features it needs, and its module (loaded on first use).

export const PAGES = [
  { id: "kpis", title: "KPIs", load: () => import("./pages/kpis.js") },
  { id: "video", title: "Video Experience", load: () => import("./pages/video.js") },
  { id: "ads", title: "Ad Experience", features: ["ad_metrics"], load: () => import("./pages/ads.js") },
  { id: "insights", title: "Content Insights", load: () => import("./pages/insights.js") },
  { id: "analysis", title: "Content Analysis", load: () => import("./pages/analysis.js") },
  { id: "paths", title: "Content Paths", features: ["smart_query"], load: () => import("./pages/paths.js") },
  { id: "subscribers", title: "Subscriber Insight", features: ["smart_query"], load: () => import("./pages/subscribers.js") },
  { id: "heatmap", title: "Error Heatmap", features: ["error_heatmap"], load: () => import("./pages/heatmap.js") },
  { id: "alerts", title: "Alerts", features: ["alerts"], load: () => import("./pages/alerts.js") },
  { id: "views", title: "Views", features: ["session_data"], load: () => import("./pages/views.js") },
  { id: "view", title: "View timeline", features: ["session_data"], hidden: true, load: () => import("./pages/timeline.js") },
  { id: "now", title: "Now", features: ["minute_granularity"], fixedPeriod: true, load: () => import("./pages/now.js") },
];

/** What each plan feature allows, as docs/plans.md words it. */
export const FEATURES = {
  minute_granularity: "minute, 5- and 10-minute time series",
  ad_metrics: "ad metrics (requests, impressions, fill rate, ad errors, completion)",
  error_heatmap: "errors and the error heatmap",
  session_data: "session-level data: the views and their timelines",
  smart_query: "named queries (content paths, subscriber insight, top content, engagement)",
  alerts: "detected incidents (alerts) with their diagnosis",
};

export const pageById = (id) => PAGES.find((p) => p.id === id) ?? PAGES[0];
