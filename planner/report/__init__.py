"""Report stage: plan tables become what people read (terminal text, Markdown, HTML, Excel, charts, in
English or Chinese), written to plan folders atomically. Nothing here imports Pyomo."""
