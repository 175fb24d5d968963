# Hand-written: full-text search structures the ORM cannot describe (aerich only diffs models).
# PostgreSQL: a stored, weighted tsvector column with a GIN index, so a query never recomputes
# to_tsvector per row. SQLite: an FTS5 index kept in step with llm_knowledge by triggers.
# MODELS_STATE is unchanged from the previous migration: the models did not change.
from tortoise import BaseDBAsyncClient

RUN_IN_TRANSACTION = True


def _dialect(db: BaseDBAsyncClient | None) -> str:
    # aerich calls upgrade(None) only while diffing for PostgreSQL (unique-constraint lookup).
    return "postgres" if db is None else db.capabilities.dialect


async def upgrade(db: BaseDBAsyncClient) -> str:
    if _dialect(db) == "postgres":
        return """
        ALTER TABLE "llm_knowledge" ADD COLUMN IF NOT EXISTS "search_vector" tsvector
    GENERATED ALWAYS AS (
        setweight(to_tsvector('english', coalesce("title", '')), 'A') ||
        setweight(to_tsvector('english', coalesce("tags", '')), 'B') ||
        to_tsvector('english', coalesce("content", ''))
    ) STORED;
CREATE INDEX IF NOT EXISTS "idx_llm_knowledge_search_vector" ON "llm_knowledge"
    USING GIN ("search_vector");"""
    return """
        CREATE VIRTUAL TABLE IF NOT EXISTS "llm_knowledge_fts" USING fts5(
    title, tags, content, content='llm_knowledge', content_rowid='id',
    tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS "llm_knowledge_fts_insert" AFTER INSERT ON "llm_knowledge" BEGIN
    INSERT INTO "llm_knowledge_fts"(rowid, title, tags, content)
    VALUES (new.id, new.title, new.tags, new.content);
END;
CREATE TRIGGER IF NOT EXISTS "llm_knowledge_fts_delete" AFTER DELETE ON "llm_knowledge" BEGIN
    INSERT INTO "llm_knowledge_fts"("llm_knowledge_fts", rowid, title, tags, content)
    VALUES ('delete', old.id, old.title, old.tags, old.content);
END;
CREATE TRIGGER IF NOT EXISTS "llm_knowledge_fts_update"
AFTER UPDATE OF title, tags, content ON "llm_knowledge" BEGIN
    INSERT INTO "llm_knowledge_fts"("llm_knowledge_fts", rowid, title, tags, content)
    VALUES ('delete', old.id, old.title, old.tags, old.content);
    INSERT INTO "llm_knowledge_fts"(rowid, title, tags, content)
    VALUES (new.id, new.title, new.tags, new.content);
END;
INSERT INTO "llm_knowledge_fts"("llm_knowledge_fts") VALUES ('rebuild');"""


async def downgrade(db: BaseDBAsyncClient) -> str:
    if _dialect(db) == "postgres":
        return """
        DROP INDEX IF EXISTS "idx_llm_knowledge_search_vector";
ALTER TABLE "llm_knowledge" DROP COLUMN IF EXISTS "search_vector";"""
    return """
        DROP TRIGGER IF EXISTS "llm_knowledge_fts_update";
DROP TRIGGER IF EXISTS "llm_knowledge_fts_delete";
DROP TRIGGER IF EXISTS "llm_knowledge_fts_insert";
DROP TABLE IF EXISTS "llm_knowledge_fts";"""


MODELS_STATE = (
    "eJztXW1v2zYQ/iuEP3VAViROmmTrpyRN26B5KVpnHVYMGi2dbSIS6ZFUXKPIf99RL7bebb"
    "m1Ynvqh8Am70jqOYq8e450v3dc13t5QTmnfaY+cDFxwRnCOVXQ+Z1873DqmQ8VUnukQ8fj"
    "SMZ807TvxjrWQywbyPWVltTWWDmgrgIsckDZko01E9yonHECXMspEQOiR0Bs4Xk+Z3pKZg"
    "2RPvb6mgjuTgl2LMUjOHsEW2WPgKWgCJVAJGjJAKtemo4dYWPPjA/X2Ac28a8PlhZDwFYl"
    "9vT1byxm3IFvoOKv4wdrwMB1UuAyxzQQlFt6Og7Kztnwiuu3gax5gr5lC9f3+Fx+PNUjwW"
    "cKjGtTOgQOkmowPWjpG4y577qRTWLYw8HORcJRJnQcGFDfNZYy2uEA5mUdy7q961mfL3uW"
    "1clZMdZIgB4V2YKbGYBDVQEAQzOEX3/rdg8PT7r7h8enr45OTl6d7p+ibDDefNXJUziYOV"
    "phUwFmV++ubntmQAKnWTgJTcFToEM1DbUCY8zRH/oMW6prg6TWYkvEuCdMEQE9s0Qssvum"
    "mENvIzxDIad56C9GVBYDn9TJAI8PtATwuXcgj/x8dWoCeo9+s1zgQz3CrwfHFaj+cfbp4v"
    "3ZpxcHx7+kob2NarpBVRpkzbQLdRCeKewivN39ZfDt7pcDbOoy01hwDeFLn8a4B99Klo+E"
    "yk6gXAFq7/LPYCHwlPrXTWL54ubszwBmbxrVXN/dvovFE9hfXN+dZyc1HapaczqSbw7sTq"
    "eRCd3dX2ZCo1TphA7q0ugq4UsbLF+6dTBOa62E9OJN8RnXjsOloD6sgPqwAGpNtV9rKs81"
    "1jWZc45HZwzcMUBt6RYYeu4FDp4QLlBejPNcKYNzH7XWtWrE0De7RJ/f3V2nlujzq+wafH"
    "9zfomoB6CjENMlLh31EStZ251Oqa3Jn2526XgWh1rCI4MJ1Mc/o9haYFUL+IoOAYH1i/zB"
    "UvgzWivBv9J6s79e8LsHRydHp4fHRzPMZyVVUOdhVQCO9QC1IsWkzk/xRp6XLEntkcdHS+"
    "yRx0ele6SpygQxEgwSFi2Yt2+wRjMPSmKZlGYGaSdSfRl/2MLgBldH6txxdxqZvCrYubq5"
    "/Nw7u/mY2k7fnPUuTU03Fe3EpS+yrsysEfLlqveemK/kr7vbywBeofRQBj3O5Xp/dcyYcB"
    "MVFhcTizqJ2RmXxqill6uxs6LV05qt1TfF6jFGCbMHozfs8+AhwYCagj61HyZUOlauRnRF"
    "mWy+yut62RLKcUdzInDNME0G4fr65kLwR5CKRtZIZxiy9XuVuQU7K7owvXDHgdgjqsmE6V"
    "FA/lOlGAZUXO8RX/nUdafEZY84LQjjhGlFxISTN0zZQjqoYKZEPqPw85ptkwgb7ea1SYSN"
    "MUXS414h3kkorcvZ3n3kcc3jHNza4Kf1WvxXxX8bMjsN0eAHS3GzBxXc7EGem33AB6sDby"
    "zfILrG7WhZ2U7Lylazsh6olXipnF7LTOUWYaGpix77A/CCNE4pslm1Fticd9ESUjtGTbSE"
    "1P/R6mWEVNLqgIiuYvOk3k+w+IZlsLbXwOF7XYNyzLkqBXvpeaT59sMncGesX8bsEY14E7"
    "ayhW/5UzzH49JOgsBdFyv7zhBRF4IP2LBTQMomq/cqOdmQ0bLnogs52S+GOKWOx7giCjQZ"
    "gyRBK69JhK0yZ7DdKZmMmAuECyLFhMA3prTKc7E/3twPcLDPxAK2hGx+GXkIXiEcaR9XJW"
    "lJDClrG6a8jfZ8xA+xtQ5l7rR+zFSo21zg1N3Hf+s1xk8LnsI1xcPZO1oF6TL1hsHeGrgl"
    "4JPhBmLhdmPh3uPrAl6r4vBVoXZzYL/aGpjNoXkcBK4C0zrzOa/YHLiH2zKJ29C7HOrdCr"
    "035CxIHKQVRByJ+K0i2vASUovvlhLtS25ufVKSPDrykvwT3cb5hzBFwEMNcEh/SmarBrFN"
    "QsIfEyHJCAMFEdweHRTcLV1PH4tDkq+dZHeRl4p//27Pi2xkePIshxba0yLoCYh6KfNYfi"
    "du6a07o7stFyHXdiih8WuQ9dOObcKxzP9l3Bbe2IWi2K3yTEJascFzCbOSrT2YIGGAu1rR"
    "PlgFeEKrRbsG2tuVUm/UGdnOAG+ZjHpBYFDjqGZeubmNYyecz1ysXWyZvFneCglsyD/AND"
    "DNFTcXCuyiLabk6sSWmaQs8YnFkk5mEWzRlDS8HgT7r/Hlzz5fnL257Dw9D6lxX0Zp3C9B"
    "aPjL0xm9wJMzv0ZFPPD6IInZEs39ElMUEPj4Kfhy37sgDp2+Jsr3FBmaH7GKqP1ILjiMVp"
    "BMXVMfBXTG11QWNBHoYpshiZEiO5LCM4mW5tg4mmNjr8Xs6GazDfdi/gfQmyWp0MEuBj0S"
    "r/KqtxD6ChSNW1ySQV0hbdqyGUVzcCyFN9b1U/85vRbaXBgdsj3G/6wNb6FuC3EWYnyvmR"
    "c8e377qmKGUnotN7SAG9qQPPA9Oh0fJQxAAga44dPlgqe0yN6CMAq9mHFGfGFE9V5MCI0D"
    "nQlF9NN3+TGEIZSrCdZiuZcPl1Zp4AdOm26Gg9dGOeiIqDGOCyylpzWziznNBpNg4Ph2wK"
    "JQd135sHUnHBPNL78Fp5Wa23tPt+Y4Y3T+xAJunrfuHlyg3d7VrZGkiX5m34r3DbtuPrKk"
    "hdYIyxsh7NGSYP53AOBOsE4W3UmqskN5I60pljeFC0PqWowPhPRKUiWVVijUbw2wvAEGzN"
    "XoNLrwCLV+Dzqr16Br4wknaHRb/ZowSlCWYrh24wLimaeVNXyc8gZarqE9977rxyI28tz7"
    "039Zq4I9"
)
