"""The pure query compiler: parse, validate, plan, choose a table, build the SQL AST, print it."""
