"""The Textual face: the app factory, screens, widgets and the stylesheet. Only this package
imports textual."""
