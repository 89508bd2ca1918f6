"""reread's browser chat: ask, read the answer, open each source with the cited span highlighted, export."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui.chat import ask, conversation_buttons, show_turn
from ui.present import failure, plain_markdown
from ui.session import get_assistant, turns
from ui.sidebar import sidebar


def main() -> None:
    st.set_page_config(page_title="reread", page_icon="📚")
    try:
        assistant = get_assistant()
    except Exception as e:  # ours in one line; anything else too, not as a traceback in the page
        st.error(plain_markdown(failure(e)))
        return
    opts, status = sidebar(assistant)
    downloads = st.sidebar.container()  # filled last, so it knows the newest turn
    vault = Path(status["vault"])
    for i, turn in enumerate(turns()):
        show_turn(assistant, turn, i, opts, vault)
    question = st.chat_input("Ask your notes")
    if question:
        turn = ask(assistant, question, opts, vault)
        if turn is not None:
            turns().append(turn)
    with downloads:
        conversation_buttons(opts, vault)


main()
