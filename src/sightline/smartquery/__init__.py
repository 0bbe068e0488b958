"""Named queries of `GET /mm-apis/smartQuery` (content paths, subscriber insight, …) and the query cache.

Pure builders (`spec`, `views`, `paths`, `subscribers`, `content`, `binges`, `audience`, `catalog`) turn a
validated `SmartQuery` into the query AST; `cache` and `tracking` hold answers and queryIds in memory;
`service` runs the queries on the store.
"""
