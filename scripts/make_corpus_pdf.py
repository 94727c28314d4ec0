"""Write the sample corpus's PDFs (a real text layer, made with fpdf2 and its core fonts).

Run once from the repository root with the project's venv; the PDFs are committed:

    . .venv/bin/activate && python scripts/make_corpus_pdf.py

Core fonts only cover latin-1, so every string here must encode as latin-1 (no curly quotes,
no en or em dashes, no euro sign). Each page of a document is a list of (kind, text) items;
kind is "h1", "h2", "p" or "li".
"""

from pathlib import Path

from fpdf import FPDF

CORPUS = Path(__file__).resolve().parent.parent / "corpus"

Q3_SUMMARY = [
    [
        ("h1", "Q3 2024 summary - Maya Lindqvist"),
        ("p", "Quarterly summary for July, August and September 2024, written on 2024-10-04 for "
              "Henrik Sjödin (1:1 on 2024-10-22) and for my own records. Covers the consultancy "
              "work, the Heron evening project and the start of Project Kestrel."),
        ("h2", "Overview"),
        ("li", "Heron: stable since the SQLite migration. Woodpecker CI replaced Jenkins in June. "
               "No incidents in the warehouse during Q3."),
        ("li", "Kestrel: started on 2024-09-02. Budget approved, team in place, plan sent to the "
               "harbour authority on 2024-09-09."),
        ("li", "NordicOps 2024: talk accepted on 2024-08-26."),
        ("li", "New laptop (Framework 13) set up on 2024-08-12; restic backups running from day one."),
        ("h2", "Heron in Q3"),
        ("p", "Heron v1.0.0 was released on 2024-09-16 with per-member stock views and the empty-shelf "
              "list. Measured availability of the Heron Pi in Q3 was 99.7 percent; the only downtime "
              "was planned, for the v1.0.0 upgrade and one OS update. The nightly report arrived in "
              "Bosse Karlgren's inbox before 06:15 on 91 of 92 days."),
        ("p", "The 600 dpi label templates fixed the blurry labels on the Brother QL-820NWB in "
              "August. Hours billed to the co-op in Q3: 38 of the 60 allowed."),
    ],
    [
        ("h1", "Project Kestrel"),
        ("p", "Kestrel: Project Kestrel budget approved at 184,000 SEK on 2024-09-02 by Ingrid Halvorsen. "
              "Team of three: Maya (lead), Oskar Berg and Linnea Sjöberg."),
        ("p", "Kestrel collects readings from twelve air-quality stations along Frihamnen every 60 "
              "seconds and will publish hourly averages on an open-data portal. The ingest service is "
              "written in Rust with Axum; the hourly roll-ups use DuckDB. Hosting is on two VMs in the "
              "harbour authority's own data centre."),
        ("h2", "Status at the end of Q3"),
        ("li", "Plan version 1.0 sent to Ingrid Halvorsen on 2024-09-09."),
        ("li", "VMs delivered by Mats Wennberg's team on 2024-09-13, three days early."),
        ("li", "Ingest skeleton running against station 1 since 2024-09-24."),
        ("li", "Hours booked on Kestrel in Q3: 96."),
        ("li", "Spent at the end of September: 18,400 SEK of the budget."),
        ("h2", "Risks carried into Q4"),
        ("li", "Unreliable modems at stations 7 and 11 in heavy rain."),
        ("li", "Sensor units not yet confirmed for NO2."),
        ("li", "The data centre change freeze in the second half of December."),
    ],
    [
        ("h1", "Plans for Q4 2024"),
        ("li", "Kestrel milestone 1 on 2024-10-15: three pilot stations. Milestone 2 on 2024-11-30: "
               "all twelve stations with gap alerting."),
        ("li", "Talk at NordicOps 2024 in Malmö on 2024-11-21."),
        ("li", "Blog post about the Heron SQLite story for the company blog."),
        ("li", "On-call weeks 44 and 50."),
        ("h2", "Numbers for the quarter"),
        ("li", "Billable hours, consultancy: 402."),
        ("li", "Hours booked on Kestrel in Q3: 96."),
        ("li", "Heron hours billed to the co-op: 38."),
        ("li", "Conference budget used: 0 of 15,000 SEK (NordicOps costs fall in Q4)."),
        ("li", "Running: 312 km in the quarter, longest run 16 km on 2024-09-21."),
        ("h2", "Personal notes"),
        ("p", "A good quarter. Lisbon in June left me rested for the summer, Heron reached 1.0 without "
              "drama, and Kestrel is the kind of project I asked Henrik for in March. The risk is "
              "doing too much at once in Q4: Kestrel milestones, the talk, and half marathon "
              "training all land in November. Decision: no new evening projects until after "
              "Göteborgsvarvet on 2025-05-17."),
    ],
]

INSURANCE = [
    [
        ("h1", "Travel insurance - policy summary"),
        ("p", "Insurer: Nordvakt Försäkring. Policy number NV-2024-558120. Holder: Maya Lindqvist. "
              "Co-insured: Jonas Ahlgren (partner, same address)."),
        ("p", "Valid 2024-01-01 to 2024-12-31 for trips of up to 45 days."),
        ("h2", "Cover"),
        ("li", "Medical costs abroad are covered without limit. Cancellation cover up to 30,000 SEK per trip. "
               "Deductible (självrisk): 1,500 SEK."),
        ("li", "Delayed luggage: up to 3,000 SEK per person for necessary purchases when luggage is "
               "more than 4 hours late."),
        ("li", "Theft of personal belongings on the trip: up to 50,000 SEK, but at most 10,000 SEK "
               "for electronics such as phones and laptops."),
        ("li", "Missed departure: up to 15,000 SEK for new tickets, when public transport to the "
               "airport is delayed. Keep receipts and the delay certificate."),
        ("li", "Hiking and trekking up to 3,000 metres are included. Climbing with ropes, diving "
               "deeper than 30 metres and motor sports are not."),
        ("p", "Emergency assistance line, open 24 hours: +46 31 700 12 12."),
    ],
    [
        ("h2", "Premium and renewal"),
        ("p", "Annual premium 1,248 SEK, paid by card on 2023-12-14. The policy renews "
              "automatically for 2025 unless cancelled before 2024-12-01. Renewal notice for 2025 "
              "received on 2024-11-15: new premium 1,320 SEK, same cover."),
        ("h2", "How to make a claim"),
        ("li", "Report online at nordvakt.example/skada within 6 months of the event."),
        ("li", "Attach receipts, the police report for theft, and a medical certificate for illness."),
        ("li", "Claims are normally paid within 14 days to the account registered with Nordvakt."),
        ("h2", "My notes"),
        ("p", "Checked before Lisbon (June 2024): Portugal is covered, the EU health card should be "
              "shown first at any public hospital. Checked before Lofoten (August 2025): Norway is "
              "covered, and the hikes planned (Reinebringen, Ryten, Festvågtind) are all well "
              "under 3,000 metres. No claims made in 2024."),
    ],
]

LEASE = [
    [
        ("h1", "Bostads AB Hjalmar - notice of renewed lease"),
        ("p", "Gothenburg, 2024-08-15"),
        ("p", "To: Maya Lindqvist and Jonas Ahlgren, Oscarsgatan 14, 3rd floor, apartment 1403."),
        ("p", "Following this year's negotiation with the tenants' association (Hyresgästföreningen), "
              "the rent for your apartment changes from 1 October 2024. The lease is renewed on "
              "2024-10-01 on otherwise unchanged terms, with both of you as tenants."),
        ("h2", "New rent"),
        ("li", "Previous rent: 9,540 SEK per month."),
        ("li", "New rent: 9,870 SEK per month, an increase of 3.46 percent."),
        ("li", "Heating and water are included. Electricity is not included."),
        ("li", "The rent is due on the last weekday of the month before, to bankgiro 5521-0893."),
        ("h2", "Planned maintenance"),
        ("p", "Window maintenance on the courtyard side is planned for week 37 of 2025. The "
              "caretaker, Ahmed Yusuf, will book access to each apartment at least two weeks in "
              "advance. Reports of faults are made through the service desk web form."),
        ("p", "Notice period: three calendar months. Questions about this letter: "
              "kundservice@hjalmar.example or 031-55 40 10, weekdays 08:00 to 12:00."),
        ("p", "Kind regards, Lena Granqvist, property manager, Bostads AB Hjalmar"),
    ],
]

DOCUMENTS = {
    "reports/q3-summary.pdf": Q3_SUMMARY,
    "travel/insurance-policy.pdf": INSURANCE,
    "home/lease-renewal-2024.pdf": LEASE,
}

STYLE = {"h1": ("B", 16, 9), "h2": ("B", 13, 7), "p": ("", 11, 6), "li": ("", 11, 6)}


def render(pages: list[list[tuple[str, str]]]) -> FPDF:
    pdf = FPDF(format="A4")
    pdf.set_creator("scripts/make_corpus_pdf.py")
    pdf.set_author("Maya Lindqvist")
    pdf.set_auto_page_break(True, margin=18)
    for page in pages:
        pdf.add_page()
        for kind, text in page:
            text.encode("latin-1")  # core fonts: fail loudly on anything else
            style, size, height = STYLE[kind]
            pdf.set_font("Helvetica", style, size)
            if kind == "li":
                pdf.set_x(pdf.l_margin + 4)
                pdf.multi_cell(0, height, "- " + text, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(1)
            else:
                if kind.startswith("h"):
                    pdf.ln(2)
                pdf.multi_cell(0, height, text, new_x="LMARGIN", new_y="NEXT")
                pdf.ln(3)
    return pdf


def main() -> None:
    for rel, pages in DOCUMENTS.items():
        target = CORPUS / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        render(pages).output(str(target))
        print(target)


if __name__ == "__main__":
    main()
