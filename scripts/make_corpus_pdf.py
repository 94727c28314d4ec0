"""Write the sample corpus's PDFs (a real text layer, made with fpdf2). Run once; the PDFs are committed."""

from pathlib import Path

from fpdf import FPDF

CORPUS = Path(__file__).resolve().parent.parent / "corpus"

DOCUMENTS = {
    "reports/q3-summary.pdf": [
        ("Q3 2024 summary - Maya Lindqvist", [
            "Heron: stable since the SQLite migration. Woodpecker CI replaced Jenkins in June. "
            "No incidents in the warehouse during Q3.",
            "Kestrel: Project Kestrel budget approved at 184,000 SEK on 2024-09-02 by Ingrid Halvorsen. "
            "Team of three: Maya (lead), Oskar Berg and Linnea Sjoberg.",
        ]),
        ("Plans for Q4 2024", [
            "Kestrel milestone 1 on 2024-10-15: three pilot stations. Milestone 2 on 2024-11-30: all twelve "
            "stations with gap alerting.",
            "Talk at NordicOps 2024 in Malmo on 2024-11-21.",
            "Hours booked on Kestrel in Q3: 96.",
        ]),
    ],
    "travel/insurance-policy.pdf": [
        ("Travel insurance - policy summary", [
            "Insurer: Nordvakt Forsakring. Policy number NV-2024-558120. Holder: Maya Lindqvist.",
            "Valid 2024-01-01 to 2024-12-31 for trips of up to 45 days.",
            "Medical costs abroad are covered without limit. Cancellation cover up to 30,000 SEK per trip. "
            "Deductible (sjalvrisk): 1,500 SEK.",
            "Emergency assistance line, open 24 hours: +46 31 700 12 12.",
        ]),
    ],
}


def main() -> None:
    for rel, pages in DOCUMENTS.items():
        pdf = FPDF()
        pdf.set_creator("make_corpus_pdf.py")
        for title, paragraphs in pages:
            pdf.add_page()
            pdf.set_font("Helvetica", "B", 16)
            pdf.multi_cell(0, 10, title)
            pdf.ln(4)
            pdf.set_font("Helvetica", size=11)
            for para in paragraphs:
                pdf.multi_cell(0, 6, para)
                pdf.ln(4)
        target = CORPUS / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        pdf.output(str(target))
        print(target)


if __name__ == "__main__":
    main()
