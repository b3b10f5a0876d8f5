"""Rendering for people and other programs: tables with units and ranges, charts, reports.

Sits on top of :mod:`econ.analysis` (numbers from a result Dataset) and is used by the CLI
(``chokepoint run|plot|sweep|report``) and by Python callers. matplotlib and openpyxl are
imported inside the functions that draw or write, so importing this package stays cheap.

* :mod:`econ.report.present`: titled tables (:class:`Table`, :class:`Output`), units,
  rounding at the data's precision, "median [p05–p95]" folding, the JSON document.
* :mod:`econ.report.charts`: the charts (revenue path with its band, revenue change by
  crossing, corridor shares, trader pressure, a map of the crossings, sweep curves).
* :mod:`econ.report.document`: the one-file report (HTML, Markdown, Excel).
"""
