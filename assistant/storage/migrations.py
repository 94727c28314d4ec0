"""The schema, as numbered sqlite-utils migrations. Never edit a shipped migration: add a new one."""

from sqlite_utils import Database, Migrations

migrations = Migrations("assistant")


@migrations()
def m001_initial(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE documents (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            root TEXT,
            format TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime REAL NOT NULL,
            n_chunks INTEGER NOT NULL DEFAULT 0,
            indexed_at TEXT NOT NULL,
            warning TEXT
        );
        -- AUTOINCREMENT: chunk ids are hnswlib labels and must never be reused
        CREATE TABLE chunks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL,
            text TEXT NOT NULL,
            heading TEXT NOT NULL DEFAULT '',
            start_line INTEGER NOT NULL,
            end_line INTEGER NOT NULL,
            n_tokens INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            embedding BLOB NOT NULL
        );
        CREATE INDEX chunks_document ON chunks(document_id);
        CREATE TABLE roots (
            path TEXT PRIMARY KEY,
            last_indexed_at TEXT NOT NULL
        );
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE sessions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at TEXT NOT NULL,
            status TEXT NOT NULL,
            question TEXT NOT NULL,
            answer TEXT NOT NULL DEFAULT '',
            model TEXT NOT NULL,
            embedder TEXT NOT NULL,
            device TEXT NOT NULL,
            params_json TEXT NOT NULL,
            timings_json TEXT NOT NULL,
            prior REAL,
            note TEXT
        );
        CREATE TABLE selections (
            session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            rank INTEGER NOT NULL,
            chunk_id INTEGER NOT NULL,
            document_path TEXT NOT NULL,
            start_line INTEGER NOT NULL,
            end_line INTEGER NOT NULL,
            heading TEXT NOT NULL,
            chunk_sha256 TEXT NOT NULL,
            text TEXT NOT NULL,
            similarity REAL NOT NULL,
            variance_after REAL NOT NULL,
            repeat INTEGER NOT NULL,
            loss REAL,
            PRIMARY KEY (session_id, rank)
        );
        CREATE INDEX selections_path ON selections(document_path);
        CREATE TABLE adapters (
            session_id INTEGER PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            gguf_path TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            rank INTEGER NOT NULL,
            alpha REAL NOT NULL,
            target_modules TEXT NOT NULL,
            steps INTEGER NOT NULL,
            forgotten_at TEXT,
            forgotten_reason TEXT
        );
        """
    )


@migrations()
def m002_evidence_and_recipe(db: Database) -> None:
    # Grounded answers keep the evidence lines and the per-sentence attribution with the session;
    # adapters remember the training recipe so an old adapter stays loadable and explainable.
    db.executescript(
        """
        ALTER TABLE sessions ADD COLUMN evidence_json TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE sessions ADD COLUMN claims_json TEXT NOT NULL DEFAULT '[]';
        ALTER TABLE adapters ADD COLUMN recipe TEXT NOT NULL DEFAULT 'raw';
        """
    )


@migrations()
def m003_answer_outcome(db: Database) -> None:
    # Whether the answer was cut at a loop, or the tool abstained because no line answered the question.
    db.executescript(
        """
        ALTER TABLE sessions ADD COLUMN looped INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE sessions ADD COLUMN abstained INTEGER NOT NULL DEFAULT 0;
        """
    )


@migrations()
def m004_citations(db: Database) -> None:
    # Pages, slides, chapters, messages and notebook cells are cited by name, not by line; '' keeps
    # the line-based citation of text files (and of every chunk indexed before this migration).
    db.executescript(
        """
        ALTER TABLE chunks ADD COLUMN citation TEXT NOT NULL DEFAULT '';
        ALTER TABLE selections ADD COLUMN citation TEXT NOT NULL DEFAULT '';
        """
    )


@migrations()
def m005_compare(db: Database) -> None:
    # `ask --compare`: the answer the model gave without the adapter, from the same evidence. NULL: not compared.
    db.executescript("ALTER TABLE sessions ADD COLUMN without_adapter TEXT;")


@migrations()
def m006_chunk_keys_index(db: Database) -> None:
    # Retrieval reads (sha256, document) of 400 candidates per ask to collapse copies. From the chunk rows
    # (text and vector: ~2.7 KB each) that is 400 random pages, 24 ms at 10^6 chunks; this covering index is
    # ~50 bytes a row. (README "Scale")
    db.executescript("CREATE INDEX IF NOT EXISTS chunks_keys ON chunks(id, sha256, document_id);")


@migrations()
def m007_document_chunking(db: Database) -> None:
    # How a document was chunked (``chunk.chunking``): a re-index re-chunks an unchanged file when the chunker or
    # its budget changed. '': indexed before this was recorded, so chunked the older way.
    db.executescript("ALTER TABLE documents ADD COLUMN chunking TEXT NOT NULL DEFAULT '';")
