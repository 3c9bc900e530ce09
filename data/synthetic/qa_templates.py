"""Phrasing families of the counsellor behaviours scored by the 17 call-quality sub-metrics.

A *family* is one way of doing (or of failing) one behaviour: greeting with the helpline's name is one family of
the opening, asking the caller's name first another; cutting the caller short is one way of interrupting,
talking over them another. Each family is written once in the phrase notation of `qa_compose` (`(a|b)`, `[opt]`,
`{slot}`, `" || "` between turns) and composes hundreds of sentences. A family with no phrasing (`""`) is the
behaviour simply left out, one of several ways of failing it; every other way of failing is said out loud (a
dismissive reply instead of empathy, an abrupt closing, a closing that forgets the case number).

`held_out=True` families are never rendered in the training split and are the only ones the held-out split
renders, so validation wording is never seen in training (`qa.families`). Slots: {counsellor}, {child}, {they},
{them}, {poss}, {day}, {minutes}, {office}, {case_no}, {detail}, {issue_short}, {extra_issue}.

Two word families are reserved, so that a label can be read off the whole call and not only off its phrase:
counsellor turns say "please", "thank"/"thanks", "asante" or "tafadhali" only in the met families of "uses
please and thank you", and hesitation markers ("um", "er", "uh", "hmm", "...", "not sure", "I guess", "maybe",
"I think") only in the not-met families of "does not hesitate or sound unsure".
"""

from __future__ import annotations

from dataclasses import dataclass

HELD_OUT = True


@dataclass(frozen=True)
class Family:
    """One way of doing (`outcome="met"`) or failing (`"not_met"`) sub-metric `key` = `(head, index)`."""

    key: tuple[str, int]
    outcome: str
    name: str
    phrasing: str  # "" = the behaviour is left out
    held_out: bool = False

    @property
    def id(self) -> str:
        return f"{self.key[0]}[{self.key[1]}]/{self.outcome}/{self.name}"


def _group(key: tuple[str, int], outcome: str, *entries: tuple) -> list[Family]:
    return [Family(key, outcome, name, phrasing, *rest) for name, phrasing, *rest in entries]


_ABSENT = ("left_out", "")

FAMILIES: list[Family] = [
    # ---------------------------------------------------------------- opening
    *_group(
        ("opening", 0), "met",
        ("after_greeting_names",
         "(Hello|Good day|Habari)[, caller]! (I am|This is) {counsellor} (from|with) the (child helpline|116 "
         "helpline|children's helpline)[, the free line for children]. (Talk to me|I am listening), (what is "
         "happening|what is going on|what made you call)?"),
        ("names_helpline_and_self",
         "(Good (morning|afternoon|evening)|Hello|Habari (yako|za leo)|Hujambo)[,] (you have reached|you are through "
         "to|you are speaking to) the (child helpline|children's helpline|national child helpline|116 helpline). (My "
         "name is|This is|I am) {counsellor}[, and I am here to help]. (How (can|may) I help you[ today]?|What can I "
         "do for you[ today]?|How can I (assist|support) you[ today]?)"),
        ("welcome_safe_space",
         "(Welcome|Karibu) to the (child helpline|116 child helpline|children's helpline), (a safe place to "
         "talk|where you can talk freely|where what you say stays confidential). {counsellor} (speaking|on the "
         "line|here)[, go ahead]. (What would you like to (talk about|share)[ today]?|Tell me what is on your "
         "mind.|What brings you to call us[ today]?)"),
        ("asks_who_is_calling",
         "(Child helpline|Helpline one one six|This is the child protection helpline)[, good day]: (counsellor|my "
         "name is) {counsellor} (answering|picking up|at your service). (Before we start|First of all|To begin), (who "
         "am I speaking with|may I know who is calling|could I have your name)[ and where you are calling from]?",
         HELD_OUT),
    ),
    *_group(
        ("opening", 0), "not_met",
        ("silence_then_what",
         "(What|Eh)? (Who gave you this number|Why are you calling this line|Is it urgent)?"),
        ("abrupt", "(Yes|Eh|Hello|Haya)[?] (Talk|Speak up|Go ahead|What is it|What do you want)[, quickly|, I am busy]."),
        ("no_identification",
         "(Hello|Hi|Good (morning|afternoon)), (who is this|who is calling|who am I talking to)? (Say what you "
         "want|What is the problem|What happened)."),
        ("mumbled", "(Mm|Ah|Sasa)[,] (line is open|I can hear you|you are on)[, so]. (Continue|Proceed|Start then).",
         HELD_OUT),
    ),
    # ---------------------------------------------------------------- listening: caller not interrupted
    *_group(
        ("listening", 0), "met",
        ("lets_the_silence_be",
         "Caller: {detail} [Then I did not know what to do.] || (I am with you|I am right here with you)[,] (finish "
         "your thought|take a breath and go on|say the rest when you are ready)[, there is time]."),
        ("waits_for_the_end",
         "Caller: {detail} [And that is (everything|all of it|the whole story).] || (Take your time|There is no "
         "rush|No need to hurry)[,] (I am (here|listening|still here)|I am following you)[. (Carry on|Continue) when "
         "you are ready]."),
        ("checks_if_finished",
         "Caller: {detail} [Sorry, I am talking a lot.] || (Is there (more|anything else) you want to (tell me|add)|"
         "Have you finished|Did you want to add something)? (I will wait until you are done|I am in no hurry|Finish "
         "first, then we talk)."),
        ("own_pace",
         "Caller: {detail} [I do not know how to explain the rest.] || (Tell it|Say it) (in your own way|your "
         "way|at your own pace)[, the line is yours]; (I will not cut in|nobody will cut you off|I will hold my "
         "questions until you finish).", HELD_OUT),
    ),
    *_group(
        ("listening", 0), "not_met",
        ("cuts_in",
         "Caller: {detail} (And then|What worries me (most|more) is|The neighbours also said|And when I asked "
         "{them}) -- || (Wait|Stop|Hold it|Okay okay)[,] (let me talk now|I have heard enough|that is not "
         "important|I am the one asking the questions)."),
        ("rushes",
         "Caller: {detail} (Can I just explain why|The last time this happened|Also there is one more thing that) -- "
         "|| (Let me cut you short|I have to stop you there|Skip that part)[,] (we do not have all day|answer my "
         "question|I do not need the history)."),
        ("talks_over",
         "Caller: {detail} (So I went|Then my sister|And the teacher) -- || (No no no|Eh eh|Sikiza)[,] (listen to me "
         "instead|you are not listening to me|just answer yes or no).", HELD_OUT),
    ),
    # ---------------------------------------------------------------- listening: empathy
    *_group(
        ("listening", 1), "met",
        ("names_the_feeling",
         "(You sound (so|very) (tired|worried|frightened)|I can tell this has been (weighing on you|hard on "
         "you))[, and that makes sense][; it took courage to call]."),
        ("sorry_and_acknowledges",
         "(I am (so|really|very) sorry|I am sorry to hear) (that you and {child} are going through this|that this "
         "is happening|about what {child} is facing). (That sounds (very|really) (painful|hard|difficult)|That must "
         "be (frightening|exhausting|heavy))[ for you]."),
        ("validates_the_feeling",
         "(It is (understandable|completely normal|natural) to feel (worried|scared|upset|this way)|Anyone in your "
         "(place|position) would feel (shaken|worried|the same))[, and your concern for {child} shows how much you "
         "care]."),
        ("pole_sana",
         "(Pole sana|Pole)[, mama|, baba|, rafiki]. (I can hear (how much this hurts|the worry in your voice)|This is "
         "a lot to carry|My heart goes out to you and {child})[, and you are not alone in this].", HELD_OUT),
    ),
    *_group(
        ("listening", 1), "not_met",
        ("dismissive",
         "(That is (common|nothing new)|Such things happen every day|Many people have it (worse|harder))[, it is "
         "nothing special|, it is normal around here|, do not make it big]."),
        ("facts_only",
         "(Feelings aside|Leave the emotions|Never mind how you feel)[,] (just give me the facts|get to the "
         "point|stick to what happened)."),
        _ABSENT,
        ("scolds",
         "(You are overreacting|Calm down (now|already)|Crying will not help (anyone|you))[, this is slowing us "
         "down|, let us get on|, control yourself].", HELD_OUT),
    ),
    # ---------------------------------------------------------------- listening: paraphrase
    *_group(
        ("listening", 2), "met",
        ("repeats_the_key_facts",
         "(What I hear is that|From what you say,|You are telling me that) {issue_short}[, "
         "(right|correct)][?|.]"),
        ("checks_understanding",
         "(So if I have understood you (correctly|right)|Let me make sure I have this right|Just to be sure I "
         "follow)[,] {issue_short}. [(Is that (correct|right)|Have I got that right)?]"),
        ("sums_up",
         "(So, to sum up|In short|Putting together what you have told me|So the main issue is that)[,] "
         "{issue_short}[, and you want help with that]."),
        ("own_words",
         "(In my own words|If I put it back to you|Said another way|Let me say it (back|the way I understood "
         "it))[,] {issue_short}[; (correct me if I am wrong|tell me if I missed something|is that how it is)].",
         HELD_OUT),
    ),
    *_group(
        ("listening", 2), "not_met",
        ("moves_on", "(Right|Okay|Fine|Noted)[.] (Next question|Moving on|What else|Let us go to something else)."),
        ("wrong_gist",
         "(So basically|So really), (this is just a (small|normal) family (quarrel|matter)|nothing much is going "
         "on|it is a misunderstanding)[, yes]?"),
        _ABSENT,
        ("just_noted", "(I have written it down|Got it|Haya)[.] (And then|Anything more|Keep going)?", HELD_OUT),
    ),
    # ---------------------------------------------------------------- listening: please and thank you
    *_group(
        ("listening", 3), "met",
        ("please_and_thanks",
         "(Thank you for waiting|Thanks for your patience with my questions)[.|,] (Please|Now please) (tell "
         "me|share) (a little more about {child}|what happened next)."),
        ("please_requests",
         "(Could you please|Please|Can you please) (tell me|let me know|say) (how old {child} is|where {child} is "
         "(staying|living) now|the name of the (area|school|village))."),
        ("thanks_for_sharing",
         "(Thank you|Thanks|Thank you so much) (for (sharing|telling me|explaining) (that|this)[ with me]|for trusting "
         "us with this|for calling about {child})[; that helps (me|a lot)]."),
        ("asante_tafadhali",
         "(Asante|Asante sana)[ kwa kupiga simu|, rafiki]. Tafadhali, (niambie|tell me) (the name of the "
         "(area|village)|where you are (now|calling from)).", HELD_OUT),
    ),
    *_group(
        ("listening", 3), "not_met",
        ("snaps_questions",
         "(Your name|The age|Which village)[?] (Come on|Faster|Hurry up)[, I have other calls]."),
        ("bare_commands",
         "(Give me|I want) (the name of the (area|school)|{child}'s age|the exact location)[, now|, quickly]."),
        ("demands_answers",
         "(Answer the question|Just answer|Answer me)[:] (how old is {child}|where do you live|which school is "
         "it|who is the man)?"),
        ("orders_repeat", "(Spell the name|Repeat that|Say it again|Repeat the name)[, slowly|, louder|, I did not get it].",
         HELD_OUT),
    ),
    # ---------------------------------------------------------------- listening: no hesitation
    *_group(
        ("listening", 4), "met",
        ("answers_straight",
         "(Yes, I can answer that (now|straight away)|The answer is (clear|simple))[:] (this is something we "
         "can act on today|{child} can get support through us|there is a proper office for it)."),
        ("states_the_plan",
         "(I can tell you exactly|Let me be clear about|Here is exactly|I will tell you plainly) what (we will "
         "do|happens now|comes next)[ for {child}]."),
        ("sure_of_the_rights",
         "(There is no doubt|Without question|Be assured)[,] {child} (has the right to be protected|deserves to be "
         "safe|can get help through us)."),
        ("knows_the_way",
         "(We deal with this kind of case|Cases like this come to us) (often|every week)[,] and (I know the "
         "(right|correct) office for it|there is a proper way to handle it).", HELD_OUT),
    ),
    *_group(
        ("listening", 4), "not_met",
        ("um_er",
         "(Um|Er|Uh)[...] (I am not sure|I do not really know)[...] (maybe you could|you could, er,) (try the "
         "chief|go to the police|ask someone)."),
        ("i_guess", "(Hmm|Well, um)[,] (it depends, I guess|I guess it could be possible|I think, maybe, yes)[...]"),
        ("trails_off",
         "(Eh, maybe|I think maybe|Hmm, maybe), (uh,|um,) (someone could help|there is an office somewhere|we do "
         "that, I am not sure)[...]", HELD_OUT),
    ),
    # ---------------------------------------------------------------- proactiveness: extra issues
    *_group(
        ("proactiveness", 0), "met",
        ("asks_for_more_concerns",
         "Caller: (Something else is bothering me:|There is another thing:) {extra_issue}. || (Tell me about "
         "that too|We can look at that as well|That is worth dealing with)[, we have time][; is there anything"
         " else on your mind]?"),
        ("takes_it_on",
         "Caller: (There is one more thing:|Also,|I forgot to say that|Another problem is that) {extra_issue}. || "
         "(That matters too|Good that you raised it|I am glad you mentioned it)[,] (let us (deal with|look at) that "
         "(as well|now)|we can (handle|work on) that on this call)."),
        ("adds_to_the_case",
         "Caller: (By the way|Besides that|One last thing), {extra_issue}. || (I will add that to the case|I am "
         "noting that as well)[ and] (we will work on it too|we will find help for that as well)."),
        ("nothing_too_small",
         "Caller: (I do not know if you can help, but|It may not be your work, but) {extra_issue}. || (It is not "
         "another story to me|Nothing is too small for us)[,] (tell me more about it|let us sort that out too).",
         HELD_OUT),
    ),
    *_group(
        ("proactiveness", 0), "not_met",
        ("not_my_department",
         "Caller: (Another thing,|One more thing,) {extra_issue}. || (That is not my department|Someone else "
         "does that)[, I cannot help with it|, find them yourself]."),
        ("refuses",
         "Caller: (There is one more thing:|Also,|Another problem is that) {extra_issue}. || (That is a different "
         "matter|That is not our problem here|That is outside what I can do)[,] (this call is only about the first "
         "issue|forget it|call another day for that one)."),
        ("one_thing_per_call",
         "Caller: (By the way|Besides that), {extra_issue}. || (We only handle one (thing|issue) per call|Let us not "
         "go there|One problem at a time, and only this one)[, it is not part of this case|, leave the rest]."),
        ("brushes_aside",
         "Caller: (And also|Plus) {extra_issue}. || (Do not bring other issues into this|Leave that one aside|That "
         "one is none of my business)[, stay on the point|, we are not here for that].", HELD_OUT),
    ),
    # ---------------------------------------------------------------- proactiveness: confirms satisfaction
    *_group(
        ("proactiveness", 1), "met",
        ("checks_it_is_workable",
         "(Will these steps be workable for you at home|Can you manage what we have planned|Is this something "
         "you can do)[ this week]? || Caller: (Yes, I can manage|I think so, yes|Ndio, I will try)."),
        ("asks_if_comfortable",
         "(Are you (comfortable|happy|okay) with|Does it work for you,) (the steps we have agreed|this plan|what we "
         "have decided)[ for {child}]? || Caller: (Yes|Ndio|Yes, it does|That works for me)[, sawa]."),
        ("asks_for_concerns",
         "(Do you have any concerns about|Is there any part you would like to change in|Tell me honestly what you "
         "think of) (the plan|these action points|what we agreed)? || Caller: (No concerns|No, it is fine|It sounds "
         "good)."),
        ("agrees_the_way_forward",
         "(Can we agree|Shall we settle) on (these as the next steps|this way forward)[, or is there something you "
         "would do differently]? || Caller: (We agree|Sawa, we agree|Yes, let us do that).", HELD_OUT),
    ),
    *_group(
        ("proactiveness", 1), "not_met",
        _ABSENT,
        ("imposes", "(That is the plan|Those are the steps|I have decided what will happen)[.] (Do them|No need to "
                    "discuss it|We are done with that part)."),
        ("take_it_or_leave_it", "(That is what we will do|You will do it that way)[,] (whether it suits you or "
                                "not|end of story|your opinion is not needed)."),
        ("settled",
         "(The plan is fixed|It is settled|It is decided)[ already][,] (no questions on it|nothing to discuss|do not "
         "argue).", HELD_OUT),
    ),
    # ---------------------------------------------------------------- proactiveness: follows up
    *_group(
        ("proactiveness", 2), "met",
        ("sets_a_review_date",
         "(Let us set a date to review things again|We will review this together)[;|,] ({day} works|on {day}),"
         " and (I will be the one calling|I will phone you)."),
        ("will_call_back",
         "(I will call you|I will ring you back|Expect a call from me) (on {day}|in two days|next week) (to (find "
         "out|see) (how {child} is doing|whether the officer has visited)|so we can review progress)."),
        ("asks_about_the_last_call",
         "(I see you called us|Our records show you called|You told us) (last week|before|earlier this month) about "
         "{child}; (has anything changed since then|how has it moved|did the officer come|what happened after "
         "that)?"),
        ("keeps_the_case_open",
         "(I am putting a follow-up on this case|I will keep this case open|This case stays open with me) and (I "
         "will|we will) (check in with you|get an update from you) (on {day}|in a few days|until {child} is "
         "safe).", HELD_OUT),
    ),
    *_group(
        ("proactiveness", 2), "not_met",
        _ABSENT,
        ("no_call_back",
         "(We do not call back|Nobody will contact you again|Do not expect a call from us)[,] (if something changes, "
         "ring again yourself|it is up to you now|that is how we work)."),
        ("closes_the_case",
         "(Once this call ends|After today|When you hang up), (the case is closed on our side|you are on your own "
         "with this|we forget about it)."),
        ("ignores_history",
         "(What happened since your last call|Your earlier report|The last time you called) is not my concern[, we "
         "start fresh|, that file is gone|, let us not go back].", HELD_OUT),
    ),
    # ---------------------------------------------------------------- resolution: accurate information
    *_group(
        ("resolution", 0), "met",
        ("officer_can_visit",
         "(The children's officer can (visit the home|assess the situation)|A children's officer will come to "
         "the home)[, and they do not charge anything|, it is part of their work]."),
        ("free_services",
         "(Calls to this helpline are|Calling 116 is|Reporting abuse at the police station is) free[ of charge][, even "
         "from a mobile phone|, nobody may ask you for money]."),
        ("the_law",
         "(Child marriage is against the law|Defilement is a serious crime|Every child has the right to go to "
         "school)[, and] (it can be reported at any police station|nobody under eighteen can legally be "
         "married|basic education in public schools is free)."),
        ("who_may_call",
         "(A child does not need a parent's permission to call this line|Anyone who suspects harm can report it, not "
         "only a relative|What you tell me is kept confidential|This line is open day and night)[, and you can stay "
         "anonymous|, every day of the year]."),
        ("medical_timing",
         "(After sexual abuse|If {child} was assaulted), (go to a health facility|get {child} to a clinic) (within 72 "
         "hours|within three days|as soon as possible)[, because the medicine that prevents HIV works best early].",
         HELD_OUT),
    ),
    *_group(
        ("resolution", 0), "not_met",
        ("wrong_hours",
         "(This helpline only works during office hours|The line is closed on weekends|Children cannot call "
         "this line themselves)[, so call on a weekday|, that is the rule]."),
        ("invents_fees",
         "(You must pay a fee|There is a charge|You need money for the officers) at the (police station|children's "
         "office) before they (record a statement|open a file|listen to you)."),
        ("wrong_law",
         "(A girl of (fifteen|sixteen) can be married if her parents agree|Abuse inside a family is a private matter "
         "the law does not cover|Only a parent is allowed to report harm to a child|The police cannot act unless "
         "there are visible injuries)[, that is the law|, that is how it is]."),
        ("wrong_timing",
         "(It is too late to go to hospital|There is no point seeing a doctor|The clinic cannot do anything now) (if "
         "it happened yesterday|after a day has passed|once the day is over).", HELD_OUT),
    ),
    # ---------------------------------------------------------------- resolution: correct language use
    *_group(
        ("resolution", 1), "met",
        ("respectful_questions",
         "(You have every right to ask questions|There is no foolish question here)[;|,] (none of them is a "
         "waste|ask whatever you need|I will answer each one)[ respectfully|, one at a time]."),
        ("plain_words",
         "(I will explain (everything|this) in simple terms|Let me put this in plain words|I will keep my explanation "
         "short and clear)[, and you can stop me at any point|, and you can ask me anything]."),
        ("not_their_fault",
         "(What happened to {child} is not {poss} fault|None of this is your fault or {child}'s|Nobody should blame "
         "{child} for this)[, and we will treat it seriously|, and we will handle it with respect]."),
        ("your_language",
         "(I will speak in whichever language is easiest for you|We can talk in English or Kiswahili, as you "
         "like|Use the language you are comfortable in)[, and ask anything you want|, I will follow you].",
         HELD_OUT),
    ),
    *_group(
        ("resolution", 1), "not_met",
        ("sheng_insult",
         "(Sasa wewe|Bana|Aki)[,] (why did you even let the child go there|stop wasting my time with such "
         "nonsense|that mother is useless)[, si you know|, ama]?"),
        ("rude",
         "(Whatever|Honestly|Look), (these children always lie about stuff like that|your family sounds like a bunch "
         "of fools|that kid is a proper mess|you people are so stupid)[, hey]."),
        ("mocks",
         "(Ati what|Eish|Wueh)? (Speak properly, you people never make sense|Such silly people, hey|What kind of "
         "parent are you)[, kwani]?", HELD_OUT),
    ),
    # ---------------------------------------------------------------- resolution: consults if unsure
    *_group(
        ("resolution", 2), "met",
        ("verifies_the_rule",
         "(Before I answer,|So that I do not mislead you,) (I will verify the rules with|I will confirm "
         "with|let me check with) (the children's office|our case manager|the health officer)[ and come back "
         "to you]."),
        ("asks_the_supervisor",
         "(Let me confirm that with my supervisor|I will check with the legal officer on duty|I will get my team "
         "lead's advice|Let me ask the supervisor on shift)[ before I advise you|, so that I do not mislead you|, to be "
         "certain]."),
        ("checks_the_directory",
         "(I will check our referral directory|Let me look up the directory|I will search our list of partners) (for "
         "the correct contact|so I give you the right office|for the nearest service)."),
        ("asks_a_colleague",
         "(Rather than guess|That is a specialised question, so) I (will|am going to) (ask a colleague who handles "
         "these cases|consult our case manager) and (come back to you|get back to you on {day}).", HELD_OUT),
    ),
    *_group(
        ("resolution", 2), "not_met",
        _ABSENT,
        ("will_not_check",
         "(I will not bother checking with anyone|No need to ask my supervisor|Checking with others is a waste of "
         "time)[,] (go with what I said|take my word for it|I will just decide)."),
        ("answers_blind",
         "(I am not going to look it up|I will answer without looking|No need for the directory)[,] (just try "
         "whatever you like|go to any office|any office will do)."),
        ("goes_alone",
         "(Nobody else needs to be involved|I do not ask colleagues for things like this|I never call the supervisor "
         "for such)[, figure out the rest|, that is final].", HELD_OUT),
    ),
    # ---------------------------------------------------------------- resolution: follows correct steps
    *_group(
        ("resolution", 3), "met",
        ("assesses_the_risk",
         "(I will first assess the risk to {child}|Step one is making sure {child} is out of danger)[,] (then "
         "register the case|then we open a case), and (then refer it|then we make the referral)."),
        ("safety_first",
         "(Before anything else|First|Most important), I need to know whether {child} is (safe|in danger) (right "
         "now|tonight|at this moment)."),
        ("records_the_case",
         "(Let me record|I am taking down|I will note) {child}'s (name, age and location|age and where {they} "
         "lives) so (the case is opened properly|it can be tracked)."),
        ("follows_protocol",
         "(Our protocol is|The correct process is) to (confirm the child's safety first|document the case before "
         "referring it)[, so I am doing that now].", HELD_OUT),
    ),
    *_group(
        ("resolution", 3), "not_met",
        ("skips_to_referral",
         "(Let us not waste time on questions|Never mind the details)[,] (I am passing it to the chief|just "
         "report it somewhere)."),
        ("skips_the_details", "(I do not need {child}'s details|No need to open a case|We can skip the paperwork)[,] "
                              "(just go and sort it out with the family|it is not serious)."),
        ("skips_safety", "(Skip the safety questions|Forget the assessment)[,] (go straight to the chief|take {child} "
                         "anywhere)."),
        ("refers_blind",
         "(Whether {child} is safe or not does not matter (for now|today)|I will refer it without asking anything "
         "more|No questions, I am sending it (on|to the chief) as it is).", HELD_OUT),
    ),
    # ---------------------------------------------------------------- resolution: explains the process
    *_group(
        ("resolution", 4), "met",
        ("three_steps",
         "(There are three steps|It goes in three steps): the (report|referral), the (assessment|home visit), "
         "and the (support plan|follow-up)[; I will explain each one as it comes|; I will walk you through "
         "each]."),
        ("numbered_steps",
         "(Here is what happens next|Let me walk you through the steps|Step by step)[:] (first|today), (I report the "
         "case to the children's officer|I log the case); (second|tomorrow), (they visit within two days|the officer "
         "calls you); (then|after that), (I call you on {day}|someone visits the home)."),
        ("where_to_go",
         "(The process is simple|This is how it works)[:] you go to {office}, (give a statement|make a report), and "
         "they (open a file for {child}|examine {child} and give you a form|give you a reference)."),
        ("what_to_expect",
         "(So that you know what to expect|To be clear about what comes next), (the social worker|the officer) will "
         "(phone you|speak to you first), (arrange a visit|then talk to {child}), and then (report back to "
         "us|decide on the support).", HELD_OUT),
    ),
    *_group(
        ("resolution", 4), "not_met",
        ("leaves_it_to_them",
         "(They will handle it their way|Whatever they decide is what happens)[, I do not know the details|, "
         "ask them]."),
        ("vague",
         "(Someone will deal with it somehow|It will get sorted|Things will happen)[, do not worry about how|, you "
         "will see|, one way or another]."),
        ("just_go",
         "(Just go there|Go to the office|Go to {office}) and (they will do their thing|see what they say|they will "
         "tell you)."),
        ("too_complicated",
         "(There is a process, it is complicated|You will figure out the rest as you go|It is too long to "
         "explain)[, never mind|, just go].", HELD_OUT),
    ),
    # ---------------------------------------------------------------- hold: explains before the hold
    *_group(
        ("hold", 0), "met",
        ("asks_before_holding",
         "(May I put you on hold|Can I place you on hold) for (about|around) {minutes} minutes (while I "
         "check|to look up) (the referral list|the officer's contact|the nearest office)?"),
        ("reason_and_length",
         "(I need to check|I am going to look up|Let me find) (the nearest children's office|the right contact|the "
         "officer's number)[ for you]; (I will place you on hold|I am putting you on a short hold) for (about|around) "
         "{minutes} minutes."),
        ("stay_on_the_line",
         "(Stay on the line|Do not hang up); I am (placing|putting) you on hold (to check our records|to find the "
         "right office)[, it will take {minutes} minutes]."),
        ("warns_of_silence",
         "(You will hear silence for a while|The line will go quiet|You will hear music) because I am putting you on "
         "hold (to look this up|while I check)[; give me {minutes} minutes|, I will be back shortly].", HELD_OUT),
    ),
    *_group(
        ("hold", 0), "not_met",
        _ABSENT,
        ("hangs_on", "(Hang on|Hold the line) (a bit|a moment|there)."),
        ("one_second", "(One second|Give me a sec|Do not go anywhere)[, eh|, wait]."),
        ("subiri", "(Subiri|Ngoja)[ kidogo|, eh][, usikate].", HELD_OUT),
    ),
    # ---------------------------------------------------------------- hold: thanks for holding
    *_group(
        ("hold", 1), "met",
        ("grateful_for_waiting",
         "(Being patient on hold like that really helped me|You waited patiently on hold)[,] (I am grateful|I "
         "truly appreciate that)[; I have the details now|; here is what I found]."),
        ("appreciates_patience",
         "(I appreciate your patience|Your patience is appreciated|I am grateful that you waited)[ while I checked|, "
         "I have the information now]."),
        ("kind_to_wait", "(It was kind of you|Good of you) to (stay on hold|wait on the line)[; I know waiting is not "
                         "easy]."),
        ("held_on",
         "(Much appreciated|I value it) that you (held on|stayed) (for me|all that time)[, here is what I found|, I "
         "am back with the details].", HELD_OUT),
    ),
    *_group(
        ("hold", 1), "not_met",
        ("no_word_of_the_wait",
         "(Yes|So), (the office is|the number is|it is) (in town|ready|this one)[, write it]."),
        _ABSENT,
        ("i_am_back", "(Okay|Right), I am back[. So|. Where were we]."),
        ("straight_on", "(I have it|Found it)[.] (Write this down|The number is ready)."),
        ("carries_on", "(Back on|Haya|Sawa), (let us continue|as I was saying|where was I)[, quickly].", HELD_OUT),
    ),
    # ---------------------------------------------------------------- closing
    *_group(
        ("closing", 0), "met",
        ("anything_else_then_farewell",
         "(Is there anything (else|more) I can do for you today|Before we end, is there anything more)? [(Alright|"
         "Okay), ](take care|stay safe)[, and remember this line is open any time]. (Goodbye|Kwaheri|Bye for now)."),
        ("gives_the_case_number",
         "(Your case number is|Your reference number is) {case_no}; (quote it|mention it) (when you call back|if "
         "anything changes). (Goodbye|Kwaheri) and (take care|stay safe)."),
        ("invites_a_call_back",
         "(You did the right thing by calling|It was good talking with you)[.] (Call us back any time|We are here "
         "for you and {child} any day)[, day or night]. (Goodbye|Kwaheri|Bye for now)[, take care]."),
        ("brings_to_a_close",
         "(That brings our call to a close|We will end the call here)[,] (look after yourself and {child}|I wish you "
         "and {child} well), and (do not hesitate to call again|the line stays open for you)[. Tutaonana].",
         HELD_OUT),
    ),
    *_group(
        ("closing", 0), "not_met",
        ("cuts_the_call",
         "(Sawa|Okay|Right)[,] (I am cutting the call|the line will end now|hanging up now)[, bye]."),
        ("abrupt", "(Okay|Haya|Right)[.] (Bye bye|That is all|Done, next caller)."),
        ("forgets_the_case_number",
         "(I have opened a case for you|I have noted everything|Your case is in the system)[.] (Okay, bye|Alright, "
         "that is it|So, bye)."),
        ("has_to_go", "(I have to go|We are finished here|My shift is over)[, bye|, I am hanging up]."),
        ("walks_off", "(Sawa sawa|Okay okay), (we are done|enough for today)[, I am going].", HELD_OUT),
    ),
]

# Hold markers: neutral stage notes present in every call that has a hold, whatever the labels.
HOLD_MARKERS: list[str] = [
    "[The caller is placed on hold.]",
    "[Call on hold for {minutes} minutes.]",
    "[Hold music plays.]",
    "[The line is on hold.]",
]

# Words reserved to one behaviour (see the module docstring).
POLITE_WORDS = r"\b(please|thank|thanks|asante|tafadhali)\b"
HESITATION_MARKERS = r"\b(um|uh|er|hmm|maybe|not sure|I guess|I think)\b|\.\.\."

# Neutral counsellor turns (questions, acknowledgements): they carry none of the behaviours, in both splits.
NEUTRAL_COUNSELLOR: list[str] = [
    "(Okay|I see|Alright|Sawa|Haya|Ndio|I hear you)[.]",
    "(Where|Which (village|town|area)) (are you calling from|is the home)?",
    "(Who|Which adults) (lives|live|stays|stay) with {child}[ at the moment]?",
    "(Since when|For how long) has this been (happening|going on)?",
    "(Does {child} go to school|Is {child} in school)[ at the moment]?",
    "(When|Where) did you last see {child}?",
    "[(Sawa|Okay), ](how old|what age) (is|was) {child}[ now]?",
    "(Who else knows about this|Have you told anyone else about this)?",
    "(Does|Did) {child} (tell you|say) anything (about it|else)?",
    "[Basi, ](and|so) (what happened|what did you do) (after that|next)?",
]

# Openers put before a counsellor turn now and then: short code-switched discourse words.
COUNSELLOR_OPENERS: list[str] = ["Sawa, ", "Haya, ", "Basi, ", "Okay, ", "So, ", "Alright, ", "Ndio, ", "Now, "]

# A counsellor turn the caller breaks into (the counsellor is interrupted, not the caller): neutral.
INTERRUPTED_COUNSELLOR: list[str] = [
    "(So what I want to understand|Okay, the next thing I need|Now, about {child}, I wanted to ask) --",
    "(Let me just|Basi, let me) (ask you|check) --",
]
RESUMING_COUNSELLOR: list[str] = [
    "(Sawa|No problem|Okay), (I can hear you now|we continue|go ahead).",
    "(It is fine|Haya), (you were saying|tell me).",
]
