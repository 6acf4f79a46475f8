"""Input stage: case schemas (pydantic), reading case files and workbooks safely, rule packs."""
