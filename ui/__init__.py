"""The Streamlit app (`ui/app.py`) and its launcher, `altclip-ui`."""
